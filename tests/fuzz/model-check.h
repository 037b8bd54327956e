/* What every function of the model must satisfy, whatever sysfs said. */
#pragma once
#include "pci-func.h"

/* Ids within their bits, a value of 0 where the attribute is marked bad,
 * strings terminated within their arrays, finite non-negative link speeds,
 * widths and groups in range. */
void model_check_func(const struct pci_func *f);
