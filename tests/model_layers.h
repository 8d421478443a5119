/*
 * model_layers.h - the three layers the model harness drives (model.h),
 * and how many configs each has.
 */
#ifndef FIXALLOC_TEST_MODEL_LAYERS_H
#define FIXALLOC_TEST_MODEL_LAYERS_H

#include "model.h"

extern const model_layer model_pool_layer;
extern const model_layer model_cache_layer;
extern const model_layer model_heap_layer;
extern const int model_pool_configs;
extern const int model_cache_configs;
extern const int model_heap_configs;

#endif /* FIXALLOC_TEST_MODEL_LAYERS_H */
