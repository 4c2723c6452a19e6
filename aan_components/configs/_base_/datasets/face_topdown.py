# The paper's data handling (Sec. 4.2): faces cropped with the dataset's box, no augmentation;
# the crop size and its codec (MMPose's RegressionLabel), the pipelines and the dataloaders.
# One of the recipe's fragments (../aan_recipe.py); a dataset config on top sets the
# dataloaders' dataset type / data_root / ann_file and the evaluators.
input_size = (256, 256)  # open: the paper does not give its crop size
codec = dict(type='RegressionLabel', input_size=input_size)

data_mode = 'topdown'

# MMPose's PackPoseInputs default meta_keys, plus 'box_size' (AFLW's normaliser)
PACKED_META_KEYS = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                    'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                    'box_size')

# LoadFaceImage = MMPose's LoadImage that names unreadable files; in training it skips them
# (warning with the path).
train_pipeline = [
    dict(type='LoadFaceImage', on_error='skip'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    # MMPose's default meta keys plus 'box_size': AFLWDataset reads the annotation's box_size
    # (test mode) and FaceAlignmentMetric(norm_mode='box_size') normalises by it; without it
    # the metric would see only the square box MMPose builds from center/scale.
    dict(type='PackPoseInputs', meta_keys=PACKED_META_KEYS),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_mode=data_mode,
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        data_mode=data_mode,
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
