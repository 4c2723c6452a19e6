# The AAN recipe every dataset config starts from: the paper's model, loss, optimiser and
# schedule (Sec. 4.2), and its data handling (faces cropped with the dataset's box, no
# augmentation), composed from one fragment each, as MMDetection's _base_:
#   schedules/paper_50k.py    Adam 1e-3, weight decay 1e-3, batch 64, 50k iterations, on
#     default_runtime.py      MMPose's runtime, the plugin, logging, last checkpoint, NaN guard
#   models/aan.py             AANBackbone + CosineEmbeddingHead, the paper's loss
#   datasets/face_topdown.py  the crop size and codec, pipelines, dataloaders
# (cpu_switch.py: the schedule with bf16 autocast, fused Adam, channels-last, for CPUs.)
# Not a config to train by itself: a dataset config on top sets model.head.num_joints, the
# dataloaders' dataset type / data_root / ann_file and the evaluators (../aan_300w.py,
# ../aan_aflw.py, ../aan_celeba.py, ../aan_300vw.py).
_base_ = ['./schedules/paper_50k.py', './models/aan.py', './datasets/face_topdown.py']

# the head decodes in the crop the pipelines make: the dataset fragment's codec
model = dict(head=dict(decoder={{_base_.codec}}))
