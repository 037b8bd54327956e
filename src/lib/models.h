/* The GPU models Aleph compute nodes offer, compiled in from gpu-models.tsv. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct gpu_model {
	const char *tier;        /* "standard" or "premium" */
	const char *name;        /* "RTX 4000 ADA" */
	int vcpu, ram_gb, vram_gb;
	double aleph_per_hour;
};

struct gpu_model_id {
	unsigned vendor, device;
	int model;               /* index in gpu_models */
	int audio;               /* the board's HDMI/DP audio function */
};

extern const struct gpu_model gpu_models[];
extern const size_t gpu_models_count;
extern const struct gpu_model_id gpu_model_ids[];
extern const size_t gpu_model_ids_count;

/* The model whose GPU function has this id, or NULL. */
const struct gpu_model *gpu_model_find(unsigned vendor, unsigned device);
/* Is this id the audio function of a known model? */
bool gpu_model_is_audio(unsigned vendor, unsigned device);
