"""MMPose-ready export: COCO-style annotation files, a dataset metainfo file and a complete RTMPose
training config whose paths mmengine resolves next to the config file ({{fileDirname}}).

MMPose reads `metainfo.py` (dataset_info with keypoint_info: name, id, color, type, swap;
skeleton_info; joint_weights; sigmas) and COCO JSON; PoseReview never imports MMPose.
"""

from __future__ import annotations

import pprint
from pathlib import Path

from annotations.core.atomic import atomic_zip
from annotations.datasets.formats.coco import add_images, coco_text
from annotations.datasets.formats.records import DatasetRecord
from mlcore.skeletons import Skeleton

LOWER_BODY = ("hip", "knee", "ankle", "heel", "toe")


def _rgb(hex_colour: str) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


def dataset_info(skeleton: Skeleton, dataset_name: str) -> dict:
    flip = skeleton.flip_index
    names = skeleton.keypoints
    keypoint_info = {
        i: {
            "name": name,
            "id": i,
            "color": _rgb(skeleton.colours[i]),
            "type": "lower" if any(part in name for part in LOWER_BODY) and name != "hip" else "upper",
            "swap": names[flip[i]] if flip[i] != i else "",
        }
        for i, name in enumerate(names)
    }
    skeleton_info = {
        i: {"link": (names[a], names[b]), "id": i, "color": _rgb(skeleton.colours[b])}
        for i, (a, b) in enumerate(skeleton.links)
    }
    return {
        "dataset_name": dataset_name,
        "paper_info": {},
        "keypoint_info": keypoint_info,
        "skeleton_info": skeleton_info,
        "joint_weights": [1.0] * len(names),
        "sigmas": list(skeleton.sigmas),
    }


def metainfo_file(skeleton: Skeleton, dataset_name: str) -> str:
    return "# MMPose dataset metainfo, written by PoseReview.\ndataset_info = " + pprint.pformat(
        dataset_info(skeleton, dataset_name), sort_dicts=False, width=110) + "\n"


def roles(subsets: list[str]) -> dict[str, str]:
    """{train/val/test role: exported subset}: a role the export lacks borrows an exported subset."""
    train = "train" if "train" in subsets else subsets[0]
    val = "val" if "val" in subsets else "test" if "test" in subsets else train
    test = "test" if "test" in subsets else val
    return {"train": train, "val": val, "test": test}


CONFIG_TEMPLATE = """\
# RTMPose-s top-down training config for this export, written by PoseReview (MMPose 1.x, mmengine).
# mmengine replaces {{{{fileDirname}}}} with this file's folder when it loads it, so
#   python tools/train.py <unzipped folder>/config.py
# works from any working directory. Images go in images/<subset>/ (included when exported with images).
# Subsets: train={train}, val={val}, test={test}.{borrowed}
default_scope = 'mmpose'

num_keypoints = {num_keypoints}
input_size = (192, 256)  # (w, h)
max_epochs = 420
stage2_num_epochs = 30
base_lr = 4e-3
train_batch_size = 64
val_batch_size = 32

data_root = '{{{{fileDirname}}}}/'
metainfo = dict(from_file='{{{{fileDirname}}}}/metainfo.py')
dataset_type = 'CocoDataset'
data_mode = 'topdown'
backend_args = dict(backend='local')

# runtime
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP', rule='greater', max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False

# optimizer and schedule
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)

# codec and model
codec = dict(type='SimCCLabel', input_size=input_size, sigma=(4.9, 5.66), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.33, widen_factor=0.5,
        out_indices=(4, ), channel_attention=True, norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='SiLU'),
        # ImageNet/COCO-pretrained CSPNeXt-s from OpenMMLab; remove init_cfg to train from scratch offline.
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/'
                                 'cspnext-s_udp-aic-coco_210e-256x192-92f5a029_20230130.pth')),
    head=dict(
        type='RTMCCHead', in_channels=512, out_channels=num_keypoints, input_size=codec['input_size'],
        in_featuremap_size=tuple([s // 32 for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'], final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# pipelines
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=80),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
             min_width=0.2, p=1.0),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.75, 1.25], rotate_factor=60),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
             min_width=0.2, p=0.5),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

# data
train_dataloader = dict(
    batch_size=train_batch_size, num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/{train}.json', data_prefix=dict(img='images/{train}/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/{val}.json', data_prefix=dict(img='images/{val}/'),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=val_batch_size, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode, metainfo=metainfo,
                 ann_file='annotations/{test}.json', data_prefix=dict(img='images/{test}/'),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/{val}.json')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/{test}.json')

custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook', switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
"""


def training_config(subsets: list[str], skeleton: Skeleton) -> str:
    """A complete RTMPose-s top-down config: model sized for K keypoints, pipelines, data, schedule."""
    role = roles(subsets)
    borrowed = [f"{r} reads the exported '{s}' subset (no {r} subset was exported)"
                for r, s in role.items() if r != s]
    return CONFIG_TEMPLATE.format(num_keypoints=skeleton.num_keypoints, borrowed="".join(
        f"\n# {line}." for line in borrowed), **role)


def write_export(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    out_path = Path(out_path)
    skeleton = next(iter(datasets.values())).skeleton
    name = next(iter(datasets.values())).info.get("project", "posereview")
    copied = 0
    with atomic_zip(out_path) as zf:
        zf.writestr("metainfo.py", metainfo_file(skeleton, name))
        zf.writestr("config.py", training_config(list(datasets), skeleton))
        for subset, ds in datasets.items():
            zf.writestr(f"annotations/{subset}.json", coco_text(ds))
            if include_images:
                copied += add_images(zf, ds, f"images/{subset}/")
    return {"subsets": list(datasets), "images_copied": copied, "bytes": out_path.stat().st_size}
