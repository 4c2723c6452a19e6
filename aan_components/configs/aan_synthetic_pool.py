# The synthetic-face demo with its data made at training speed (docs/gpu_training.md):
#   mim train mmpose mm_configs/aan_synthetic_pool.py
# Instead of rendering every training face (numpy + OpenCV, ~4 ms each, on loader workers),
# a pool of faces is rendered and cropped once (CropCacheDataset, on 2 processes) and every
# draw is a new variant of a pool face: a random affine (rotation, scale, shift), colour,
# gamma, blur and noise, applied to the whole batch on the model's device by
# RandomFaceBatchAugment (kornia), with the regression targets moved exactly as the pixels.
_base_ = ['./aan_synthetic.py']

pool_size = 4000
model = dict(data_preprocessor=dict(batch_augments=[
    dict(type='RandomFaceBatchAugment',
         mean={{_base_.model.data_preprocessor.mean}},
         std={{_base_.model.data_preprocessor.std}})]))
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CropCacheDataset',
        device='cpu',  # 'cuda' on a GPU
        num_workers=2,  # processes that render and crop the pool
        dataset=dict(type='SyntheticFaceDataset', num_samples=pool_size, seed=0,
                     image_size=128, pipeline={{_base_.train_pipeline}})))
