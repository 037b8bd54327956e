#include "models.h"

static const struct gpu_model_id *find_id(unsigned vendor, unsigned device, int audio)
{
	for (size_t i = 0; i < gpu_model_ids_count; i++) {
		const struct gpu_model_id *id = &gpu_model_ids[i];
		if (id->vendor == vendor && id->device == device && id->audio == audio)
			return id;
	}
	return NULL;
}

const struct gpu_model *gpu_model_find(unsigned vendor, unsigned device)
{
	const struct gpu_model_id *id = find_id(vendor, device, 0);
	return id ? &gpu_models[id->model] : NULL;
}

bool gpu_model_is_audio(unsigned vendor, unsigned device)
{
	return find_id(vendor, device, 1) != NULL;
}
