"""Training data made in plain Python: procedural faces with exact landmarks
(:mod:`~aan_core.data.synthetic_faces`, numpy + OpenCV) and random batch augmentation that
moves the landmarks with the pixels (:mod:`~aan_core.data.face_augmentation`, kornia).

Import the module you need; this package imports neither (kornia is optional).
"""
