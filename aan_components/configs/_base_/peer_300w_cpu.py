# What every peer in baselines/ shares: the CPU switch, AAN's 300W data and metric, a
# schedule's hooks. The peers' MMPose bases set every key of their own, and mmengine refuses a
# key that two sibling bases both set, so this fragment states its parts under `peer_*` names
# and each peer config takes them: `optim_wrapper = _base_.peer_optim_wrapper`, ...
# (`peer_*` keys stay in the resolved config, as a base's variables do).

# the CPU switch (cpu_switch.py): bf16 autocast with the head and loss in fp32, fused Adam,
# channels-last weights, the cores split between the model and the loader; iteration-based
peer_optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(fused=True))
peer_custom_hooks = [dict(type='SyncBuffersHook'), dict(type='FiniteLossHook')]
peer_max_iters = 6000  # AAN's CPU recipe's images seen (batch 32)
peer_train_cfg = dict(_delete_=True, by_epoch=False, max_iters=peer_max_iters,
                      val_interval=peer_max_iters)
# and one checkpoint, the last, tested once at the end (no best-on-test checkpoint)
peer_default_hooks = dict(
    channels_last=dict(type='ChannelsLastHook'),
    cpu_threads=dict(type='CPUThreadsHook'),
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=peer_max_iters, max_keep_ckpts=1, save_last=True,
                    save_best=None))
peer_log_processor = dict(by_epoch=False)


# data: the 300W files `aan convert 300w` writes; trained on train, tested on common; every
# face decoded once and kept in memory (LoadFaceImage), one loader worker
peer_dataset = dict(
    _delete_=True,
    type='AANFace300WDataset',  # MMPose's Face300WDataset; no data: says how to get it
    data_root='data/300w/',
    data_mode='topdown',
    data_prefix=dict(img='images/'))
peer_train_ann = 'annotations/face_landmarks_300w_train.json'
peer_test_ann = 'annotations/face_landmarks_300w_common.json'
# AAN's evaluators (../aan_300w.py): per-image NME, AUC and failure rate, both normalisations
peer_evaluators = [
    dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', subsets='300w'),
    dict(type='FaceAlignmentMetric', norm_mode='inter_pupil', subsets='300w',
         prefix='inter_pupil'),
]
