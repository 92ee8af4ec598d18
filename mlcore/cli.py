"""``python -m mlcore``: predict, train, evaluate, merge and split on COCO files; no Django needed.

    python -m mlcore predict  --model <mediapipe|blazepose|file.onnx|model-dir> --coco images.json --images DIR
                              --out preds.json
    python -m mlcore train    keypoints|form --coco train.json --images DIR [--val val.json] --out MODEL_DIR
                              [--backbone scratch|blazepose|auto]
    python -m mlcore evaluate --gt gt.json --pred preds.json
    python -m mlcore merge    --inputs a.json b.json [--form-labels correct lumbar_error] [--prefixes a b]
                              --out merged.json
    python -m mlcore split    --coco merged.json --out-dir DIR [--ratios 0.7 0.15 0.15] [--seed 42]

Results and reports are JSON; progress goes to stderr as lines
``{"progress": 0.42, "message": "..."}`` so a job runner can follow it.
Exit status: 0 ok, 2 bad arguments or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import __version__
from .blazepose.head_config import STAGE_CHOICES, TEST_VIEW_RULES, WHOLE_BACKBONE

if TYPE_CHECKING:
    import numpy as np

    from .predictors.base import Instance, Predictor


def _progress(fraction: float, message: str) -> None:
    print(json.dumps({"progress": round(float(fraction), 4), "message": message}), file=sys.stderr, flush=True)


def _dump(obj: dict[str, Any] | list[Any], out: str | None) -> None:
    from .coco import save_coco

    if out:
        save_coco(obj, out)
    else:
        json.dump(obj, sys.stdout, indent=1)
        sys.stdout.write("\n")


def cmd_predict(args: argparse.Namespace) -> int:
    from . import pipeline
    from .coco import load_coco, save_coco
    from .modeldir import is_model_dir, read_meta

    data = load_coco(args.coco)
    named = args.model in ("mediapipe", "blazepose")
    if not named and is_model_dir(args.model) and read_meta(args.model)["kind"] == "form":
        from .form import FormClassifier

        preds = pipeline.predict_form(data, FormClassifier(args.model, int8=args.int8, threads=args.threads))
        save_coco(preds, args.out)
        _progress(1.0, f"classified {len(preds)} annotations -> {args.out}")
        return 0
    if not args.images:
        raise SystemExit("predict: --images is required for keypoint models")
    from .predictors import load_predictor

    predictor = load_predictor(args.model, threads=args.threads)
    if args.spine:
        predictor = _spine_predictor(predictor, data, args.spine)
    extra: list[Predictor] = []
    if args.mc_samples:
        if not is_model_dir(args.model):
            raise SystemExit("predict: --mc-samples needs a built-in model directory "
                             "(it runs model.pt with dropout on)")
        from .predictors.torch_topdown import TorchTopDownPredictor

        # _MCOnly stands in for a Predictor (predict_coco only calls predict on extra predictors);
        # it does not subclass one so this module imports no predictor code until a command runs.
        extra.append(cast("Predictor", _MCOnly(TorchTopDownPredictor(args.model, mc_samples=args.mc_samples))))
    form = None
    if args.form_model:
        from .form import FormClassifier

        form = FormClassifier(args.form_model, threads=args.threads)
    preds = pipeline.predict_coco(data, args.images, predictor, boxes=args.boxes, flip_test=not args.no_flip_test,
                                  extra_predictors=extra, form_classifier=form, progress=_progress, limit=args.limit)
    save_coco(preds, args.out)
    _progress(1.0, f"{len(preds)} predictions -> {args.out}")
    return 0


def _spine_predictor(predictor: Predictor, data: dict[str, Any], spine: str) -> Predictor:
    """The BlazePose predictor again, placing spine points ("contour" or "heuristic") in the file's skeleton."""
    from .blazepose.predictor import BlazePosePredictor
    from .coco import category_skeleton
    from .spine_contour import PLACED

    if not isinstance(predictor, BlazePosePredictor):
        raise SystemExit("predict: --spine works with --model blazepose")
    target = category_skeleton(data) if any(c.get("keypoints") for c in data.get("categories", [])) else None
    if target is None or not all(n in target.keypoints for n in PLACED):
        raise SystemExit("predict: --spine needs a COCO file whose category has the spine points "
                         "(coco17_spine or spinetrack37)")
    return BlazePosePredictor(landmark_net=predictor.net, detector=predictor.detector, spine=spine,
                              spine_skeleton=target, device=str(predictor.device))


class _MCOnly:
    """Wraps a predictor so only its MC-dropout passes feed the spread signal (its own mean is not a sample)."""

    def __init__(self, predictor: Predictor) -> None:
        self.p = predictor

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        found = self.p.predict(image, boxes)
        for inst in found:
            inst.keypoints = inst.extra["mc_keypoints"][0]
            inst.extra = {"mc_keypoints": inst.extra["mc_keypoints"]}
        return found


def test_views_argument(value: str) -> str | list[str] | None:
    """--test-views: "choose" -> None, one rule -> it, "a,b" -> [a, b]; exits naming the rules otherwise."""
    if value == "choose":
        return None
    rules = [r.strip() for r in value.split(",") if r.strip()]
    unknown = [r for r in rules if r not in TEST_VIEW_RULES]
    if unknown or not rules:
        raise SystemExit(f"--test-views: {', '.join(unknown) or 'nothing'} is not among choose, "
                         f"{', '.join(TEST_VIEW_RULES)}")
    return rules[0] if len(rules) == 1 else rules


def cmd_train(args: argparse.Namespace) -> int:
    from .coco import load_coco
    from .skeletons import get_preset

    train = load_coco(args.coco)
    val = load_coco(args.val) if args.val else None
    skeleton = get_preset(args.skeleton) if args.skeleton else None
    if args.what == "keypoints":
        if not args.images:
            raise SystemExit("train keypoints: --images is required")
        from .training.keypoints import KeypointTrainConfig, resolve_backbone, train_keypoints

        cfg = KeypointTrainConfig(seed=args.seed, backbone=resolve_backbone(args.backbone))
        cfg.head.seed = args.seed
        if cfg.backbone == "blazepose":
            if args.input_size or args.resume or args.init_from:
                raise SystemExit("train keypoints --backbone blazepose: --input-size, --resume and --init-from "
                                 "do not apply (input 256 x 256, pretrained backbone)")
            cfg.head.epochs = args.epochs or cfg.head.epochs
            cfg.head.batch_size = args.batch_size or cfg.head.batch_size
            cfg.head.patience = args.patience or cfg.head.patience
            if args.stage_scale is not None:
                cfg.head.stage_scale = args.stage_scale
            cfg.head.stages = args.stages or cfg.head.stages
            cfg.head.flip_average = {"choose": None, "on": True, "off": False}[args.flip_average]
            cfg.head.test_views = test_views_argument(args.test_views)
            cfg.head.temporal_smoothing = args.temporal_smoothing
            if args.ema_epochs is not None:
                cfg.head.ema_epochs = args.ema_epochs
            cfg.head.members = args.members or cfg.head.members
        if args.epochs:
            cfg.epochs = args.epochs
        if args.batch_size:
            cfg.batch_size = args.batch_size
        if args.input_size:
            w, h = (int(v) for v in args.input_size.lower().split("x"))
            cfg.input_size = (w, h)
        if args.patience:
            cfg.patience = args.patience
        report = train_keypoints(train, args.images, args.out, val=val, skeleton=skeleton, config=cfg,
                                 device=args.device, progress=_progress, resume=args.resume,
                                 init_from=args.init_from)
    else:
        from .training.form import FormTrainConfig, train_form

        form_cfg = FormTrainConfig(arch=args.arch, seed=args.seed)
        if args.epochs:
            form_cfg.epochs = args.epochs
        if args.patience:
            form_cfg.patience = args.patience
        if args.select_folds:
            form_cfg.select_folds = args.select_folds
        report = train_form(train, args.out, val=val, skeleton=skeleton, config=form_cfg, device=args.device,
                            progress=_progress)
    _dump(report, None)
    return 0


def _load_results(path: str) -> list[dict[str, Any]]:
    """A JSON list of results (what ``predict`` writes), read like ``coco.load_coco`` reads a COCO file."""
    with open(path, encoding="utf-8") as fh:
        results: list[dict[str, Any]] = json.load(fh)
    return results


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import pipeline
    from .coco import load_coco

    report = pipeline.evaluate(load_coco(args.gt), _load_results(args.pred), pck_alphas=tuple(args.pck))
    _dump(report, args.out)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .coco import load_coco, merge_coco, save_coco

    merged = merge_coco([load_coco(p) for p in args.inputs], form_labels=args.form_labels,
                        file_prefixes=args.prefixes, drop_unannotated=not args.keep_unannotated)
    save_coco(merged, args.out)
    _progress(1.0, f"{len(merged['images'])} images, {len(merged['annotations'])} annotations -> {args.out}")
    return 0


def cmd_pseudo_labels(args: argparse.Namespace) -> int:
    from .coco import load_coco, save_coco
    from .pseudo_labels import pseudo_label_coco

    out = pseudo_label_coco(load_coco(args.coco), _load_results(args.pred), min_score=args.min_score,
                            min_keypoints=args.min_keypoints, min_box=args.min_box)
    save_coco(out, args.out)
    _progress(1.0, f"{len(out['annotations'])} pseudo-labelled instances on {len(out['images'])} images -> {args.out}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from .coco import load_coco, save_coco, split_by_clip

    parts = split_by_clip(load_coco(args.coco), tuple(args.ratios), args.seed)
    for name, part in parts.items():
        save_coco(part, Path(args.out_dir) / f"{name}_coco.json")
    _dump({k: {"images": len(v["images"]), "annotations": len(v["annotations"])} for k, v in parts.items()}, None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mlcore", description="PoseReview ML core (no Django).")
    p.add_argument("--version", action="version", version=f"mlcore {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pr = sub.add_parser("predict", help="keypoint predictions with uncertainty, or form predictions")
    pr.add_argument("--model", required=True, help="mediapipe | blazepose | a SimCC .onnx file | a model directory")
    pr.add_argument("--coco", required=True, help="COCO file listing the images (annotations give boxes)")
    pr.add_argument("--images", help="folder holding the image files (searched recursively)")
    pr.add_argument("--out", required=True)
    pr.add_argument("--boxes", choices=["auto", "frame"], default="auto",
                    help="auto: annotation boxes where present, else the whole frame; frame: always the whole frame")
    pr.add_argument("--no-flip-test", action="store_true", help="skip the mirrored pass (no flip signal)")
    pr.add_argument("--mc-samples", type=int, default=0, help="MC-dropout passes (built-in model dirs)")
    pr.add_argument("--form-model", help="form model dir: classify the predicted keypoints too")
    pr.add_argument("--int8", action="store_true", help="use the INT8 form model")
    pr.add_argument("--limit", type=int, help="only the first N images")
    pr.add_argument("--threads", type=int, help="onnxruntime threads")
    pr.add_argument("--spine", choices=["contour", "heuristic"],
                    help="blazepose: place spine points along the mask's back contour (or the straight line)")
    pr.set_defaults(func=cmd_predict)

    tr = sub.add_parser("train", help="train the built-in keypoint model or a form classifier")
    tr.add_argument("what", choices=["keypoints", "form"])
    tr.add_argument("--coco", required=True)
    tr.add_argument("--images")
    tr.add_argument("--val")
    tr.add_argument("--out", required=True)
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--device", help="cpu | cuda (default: cuda when available)")
    tr.add_argument("--skeleton", help="preset to train (default: the training file's category)")
    tr.add_argument("--arch", choices=["auto", "select", "geometry", "gcn", "mlp"], default="auto",
                    help="form model (auto: select where the skeleton has the COCO body points, else gcn; select: "
                         "feature sets and head chosen by clip-grouped CV on the training file)")
    tr.add_argument("--select-folds", type=int, help="form, select: inner clip-grouped folds (default 4)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--input-size", help="keypoint model input WxH, e.g. 48x64")
    tr.add_argument("--patience", type=int, help="early-stopping patience in epochs (scratch: with --val; "
                    "blazepose: on --val, else on an inner clip-grouped fold of the training file; default 3)")
    tr.add_argument("--resume", action="store_true", help="continue from MODEL_DIR/checkpoints/last.pt")
    tr.add_argument("--init-from", help="keypoints: start from this model directory's weights "
                                        "(e.g. one trained on pseudo-labels)")
    tr.add_argument("--backbone", choices=["scratch", "blazepose", "auto"], default="auto",
                    help="keypoints: scratch = the built-in network from random weights; blazepose = heads on "
                         "BlazePose's pretrained backbone (needs the mediapipe 0.10.14 wheel's files); "
                         "auto (the default) = blazepose when those files are found, else scratch")
    tr.add_argument("--stage-scale", type=float, help="keypoints, blazepose: the backbone's last stage trains with "
                    "the heads at this fraction of their learning rate (default 0.1; 0 = heads alone)")
    tr.add_argument("--stages", type=int, choices=STAGE_CHOICES, help="keypoints, blazepose: how many last backbone "
                    "stages train (1 = the 8 x 8 stage, the default; 2 = the 16 x 16 stage too; "
                    f"{WHOLE_BACKBONE} = the whole backbone, for a GPU: several times the 8 x 8 stage's training "
                    "on a CPU)")
    tr.add_argument("--flip-average", choices=["choose", "on", "off"], default="choose",
                    help="keypoints, blazepose: answer with the mean of the plain and the mirrored pass; choose = "
                         "when it scores higher on the held-out clips (the default)")
    tr.add_argument("--test-views", default="choose",
                    help="keypoints, blazepose: how each crop is read: plain; with its mirror averaged point by "
                         "point (flip_points) or on the heatmaps (flip_maps); with crops zoomed x0.9 and x1.1 "
                         "(zoom); all four views on the heatmaps (zoom_flip_maps). One rule, several separated by "
                         "commas (the one that scores highest on the held-out clips), or choose = among all "
                         "(the default; --flip-average on/off then forces flip_points or plain)")
    tr.add_argument("--temporal-smoothing", action="store_true", help="keypoints, blazepose: choose each point's "
                    "smoothing radius along a clip on the held-out clips (predict applies it)")
    tr.add_argument("--members", type=int, choices=range(1, 6), metavar="1-5", help="keypoints, blazepose: "
                    "train this many heads (each early-stopped on another inner fold of the training clips) and "
                    "answer the mean of their heatmaps (default 3)")
    tr.add_argument("--ema-epochs", type=float, help="keypoints, blazepose: early stopping scores, and the model "
                    "keeps, a moving average of the weights over about this many epochs (0 = the weights "
                    "themselves)")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="OKS-AP, mean OKS, PCK, errors; form accuracy/F1/confusion")
    ev.add_argument("--gt", required=True)
    ev.add_argument("--pred", required=True)
    ev.add_argument("--pck", type=float, nargs="+", default=[0.05, 0.1], help="PCK thresholds (share of box size)")
    ev.add_argument("--out")
    ev.set_defaults(func=cmd_evaluate)

    me = sub.add_parser("merge", help="merge COCO files (renumber ids, drop unannotated images)")
    me.add_argument("--inputs", nargs="+", required=True)
    me.add_argument("--form-labels", nargs="+")
    me.add_argument("--prefixes", nargs="+")
    me.add_argument("--keep-unannotated", action="store_true")
    me.add_argument("--out", required=True)
    me.set_defaults(func=cmd_merge)

    ps = sub.add_parser("pseudo-labels", help="turn confident predictions into COCO annotations to train on")
    ps.add_argument("--coco", required=True, help="COCO file listing the images and the skeleton")
    ps.add_argument("--pred", required=True, help="keypoint predictions for them (python -m mlcore predict)")
    ps.add_argument("--min-score", type=float, default=0.5, help="keep keypoints scored at least this")
    ps.add_argument("--min-keypoints", type=int, default=8, help="keep instances with at least this many kept points")
    ps.add_argument("--min-box", type=float, default=16.0,
                    help="keep instances whose box is at least this many pixels a side")
    ps.add_argument("--out", required=True)
    ps.set_defaults(func=cmd_pseudo_labels)

    sp = sub.add_parser("split", help="clip-grouped train/val/test split")
    sp.add_argument("--coco", required=True)
    sp.add_argument("--out-dir", required=True)
    sp.add_argument("--ratios", type=float, nargs=3, default=[0.7, 0.15, 0.15])
    sp.add_argument("--seed", type=int, default=42)
    sp.set_defaults(func=cmd_split)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
        return rc
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
