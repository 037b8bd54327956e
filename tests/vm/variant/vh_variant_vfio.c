// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vh_variant_vfio: the smallest VFIO variant driver there is, for the QEMU
 * guest of vfio-handover's tests (tests/vm/scenarios/variant.sh).
 *
 * It is what the kernel's real variant drivers (mlx5_vfio_pci,
 * nvgrace_gpu_vfio_pci, ...) are, less their device-specific parts: a PCI
 * driver built on vfio-pci-core whose id table has only an "override only"
 * entry, which matches a device solely through its driver_override.
 * Kbuild writes such an entry to modules.alias with a "vfio_" prefix:
 *     alias vfio_pci:v00001234d00001111sv*sd*bc*sc*i* vh_variant_vfio
 * so that `vfio-handover bind --driver auto` finds it by the device's
 * modalias, as libvirt does.  Its module name (vh_variant_vfio) and its
 * PCI driver's name (vh-variant-vfio-pci) differ on purpose: the tool must
 * learn the driver's name from the kernel (/sys/module/MODULE/drivers),
 * never by rewriting one name into the other.
 *
 * The device is QEMU's display adapter (1234:1111, "-device VGA" and
 * "secondary-vga").  A device bound here is a VFIO device like any other:
 * vfio-pci-core registers it in its IOMMU group, /dev/vfio/GROUP appears.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/version.h>
#include <linux/vfio_pci_core.h>

#define VH_VARIANT_DRIVER "vh-variant-vfio-pci"

static int vh_variant_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret = vfio_pci_core_enable(vdev);

	if (ret)
		return ret;
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops vh_variant_ops = {
	.name = VH_VARIANT_DRIVER,
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	/* NULL where the kernel has no iommufd (linux/vfio.h) */
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
#endif
	.open_device = vh_variant_open_device,
	.close_device = vfio_pci_core_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
};

static int vh_variant_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfio_pci_core_device *vdev;
	int ret;

	vdev = vfio_alloc_device(vfio_pci_core_device, vdev, &pdev->dev, &vh_variant_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	dev_set_drvdata(&pdev->dev, vdev);
	ret = vfio_pci_core_register_device(vdev);
	if (ret) {
		vfio_put_device(&vdev->vdev);
		return ret;
	}
	return 0;
}

static void vh_variant_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

/* Override only: never bound to the display adapter unless its
 * driver_override names this driver. */
static const struct pci_device_id vh_variant_ids[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, 0x1111) },
	{}
};
MODULE_DEVICE_TABLE(pci, vh_variant_ids);

static struct pci_driver vh_variant_driver = {
	.name = VH_VARIANT_DRIVER,
	.id_table = vh_variant_ids,
	.probe = vh_variant_probe,
	.remove = vh_variant_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(vh_variant_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-handover's test VFIO variant driver for QEMU's display adapter");
