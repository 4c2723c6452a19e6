# The paper's network (Sec. 3): AANBackbone (residual stages with the attention F = (1 + M) * H)
# and CosineEmbeddingHead (intermediate supervision, cosine embedding, coordinate regression).
# One of the recipe's fragments (../aan_recipe.py). The head's decoder is the crop's codec,
# which the dataset fragment owns (the pipelines need it too); the config that composes the
# two joins them: model = dict(head=dict(decoder={{_base_.codec}})).
# Choices the paper leaves open are marked "open:" and documented in docs/reproducing.md.
stage_channels = (128, 256, 512, 1024)  # open: channel widths

model = dict(
    # TopdownPoseEstimator that fills the head's 'auto' sizes from the backbone: a child that
    # changes the crop (codec), stem stride or widths (backbone) types no map size or channels
    type='AANPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='AANBackbone',
        stem_channels=64,
        # open: 4 = ResNet stem (7x7/2 conv + 3x3/2 max-pool), five poolings with the stages';
        # 2 = conv only, exactly the paper's "four pooling layers" but ~4x the FLOPs
        # (docs/studies.md, "Table 5 on synthetic faces")
        stem_stride=4,
        stage_channels=stage_channels,
        blocks_per_stage=1,  # paper: one residual bottleneck block per building block
        attention='aan',  # the paper's F = (1 + M) * H; other forms: aan_core.create_attention
        pool='max',  # open: which pooling
        out_indices=(0, 1, 2, 3)),
    head=dict(
        type='CosineEmbeddingHead',
        in_channels='auto',  # the backbone's outputs: one intermediate branch per stage
        embedding_dim=256,  # paper: d = 256 (cross-validated)
        # paper: "the feature vector produced by the last residual block" into fully connected
        # layers, read literally: the flattened C x H x W map, for the head and the branches
        # (docs/studies.md, "Table 5 on synthetic faces": flattening beat global average
        # pooling there).
        final_input='flatten',
        branch_input='flatten',
        # each map's (H, W): the backbone's geometry (stem stride, stages) at the codec's crop
        feature_sizes='auto',
        loss=dict(
            type='IntermediateSupervisionLoss',
            # open: the loss. L2 as the era's Caffe EuclideanLoss, sum((pred - gt)^2) / (2 N):
            # MMPose's element-mean MSELoss times K, K read from the prediction (no config
            # restates it). The scale matters: with MMPose's plain mean the gradients are K
            # times smaller and the paper's weight decay (1e-3, Adam's coupled L2) outweighs
            # them; training then stalls at the mean shape (measured on synthetic faces:
            # docs/reproducing.md, "The loss scale").
            loss=dict(type='EuclideanLoss', use_target_weight=True),
            stage_weights=(1.0, 1.0, 1.0, 1.0),  # paper: all losses summed (one per stage)
            final_weight=1.0)),
        # Not the paper's (off here): normalise_weights=True in the loss divides the weights
        # by their total (they sum to 1 with or without branches); output_init='mean_shape'
        # starts every regressor at the first training batch's mean shape (output weights
        # 0); embedding_sigma='median' sets the embedding's bandwidth to that batch's median
        # pairwise distance. Both starts are skipped for loaded weights (CosineEmbeddingHead).
    # The paper reports single-pass numbers; flip test (MMPose TTA) is available.
    test_cfg=dict(flip_test=False, shift_coords=True))
