# aan_300w_cpu.py with MMPose's face augmentation (README "Real faces: 300W common"):
#   mim train mmpose mm_configs/aan_300w_cpu_aug.py
# Every draw of a face is a new random crop, made by MMPose's own transforms on loader workers:
# a horizontal flip with 300W's left/right point pairs (the dataset's flip_indices), a random
# shift, zoom and rotation of the face box (RandomBBoxTransform: truncated normal draws, up to
# +-6% of the box, 0.9-1.15 x, +-25 degrees), and MMPose's photometric distortion (brightness,
# contrast, saturation, hue, channel order). Model, schedule and the CPU switch are
# aan_300w_cpu.py's; a random pipeline cannot be served from a crop cache, so one loader worker
# runs it (each face decoded once, then kept in memory) and the model computes on the other
# core (CPUThreadsHook).
_base_ = ['./aan_300w_cpu.py']

# No attention: at this recipe no attention form beat none (docs/studies.md "Why attention
# costs", part (c): the paper's gate, and its map with the mean gain divided out, against none,
# 6,000 iterations, L1, fair start). The paper's gate: --cfg-options model.backbone.attention=aan
# L1 on the coordinates instead of the recipe's L2 (EuclideanLoss), at the same scale: the sum
# over the 68 points' 136 coordinates, mean over faces. With this augmentation
# it tested 4.12 +- 0.03 against L2's 4.28 +- 0.02 (NME inter-ocular on common, seeds 0, 1
# each; docs/studies.md "Real faces: 300W"). The recipe's L2: --cfg-options
# model.head.loss.loss.type=EuclideanLoss model.head.loss.loss.loss_weight=1
model = dict(backbone=dict(attention='none'),
             head=dict(loss=dict(loss=dict(type='L1Loss', loss_weight=136))))

train_pipeline = [
    dict(type='LoadFaceImage', on_error='skip', cache_images=True),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0.06, shift_prob=1.0,
         scale_factor=(0.9, 1.15), scale_prob=1.0, rotate_factor=25.0, rotate_prob=1.0),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PhotometricDistortion'),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        data_mode='topdown',
        ann_file='annotations/face_landmarks_300w_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
