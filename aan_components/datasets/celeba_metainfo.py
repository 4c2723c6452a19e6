# MMPose dataset_info for CelebA's 5 landmarks (eye centres, nose tip, mouth corners), in the
# format of mmpose's configs/_base_/datasets/*.py. Points are ordered as CelebA's
# list_landmarks_celeba.txt columns: lefteye, righteye, nose, leftmouth, rightmouth, where
# "left" is the image-left side (the same convention as the iBUG 68-point order).
dataset_info = dict(
    dataset_name='celeba',
    paper_info=dict(
        author='Liu, Ziwei and Luo, Ping and Wang, Xiaogang and Tang, Xiaoou',
        title='Deep Learning Face Attributes in the Wild',
        container='Proceedings of International Conference on Computer Vision (ICCV)',
        year='2015',
        homepage='https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html',
    ),
    keypoint_info={
        0: dict(name='left_eye', id=0, color=[255, 0, 0], type='upper', swap='right_eye'),
        1: dict(name='right_eye', id=1, color=[255, 0, 0], type='upper', swap='left_eye'),
        2: dict(name='nose', id=2, color=[0, 255, 0], type='upper', swap=''),
        3: dict(name='left_mouth', id=3, color=[0, 0, 255], type='lower', swap='right_mouth'),
        4: dict(name='right_mouth', id=4, color=[0, 0, 255], type='lower', swap='left_mouth'),
    },
    skeleton_info={},
    joint_weights=[1.] * 5,
    # OKS sigmas (only OKS-based metrics use them): the magnitude of COCO-WholeBody's face
    # points (0.02-0.04).
    sigmas=[0.025] * 5)
