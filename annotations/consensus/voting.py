"""Collecting independent annotations of a frame and applying their consensus.

A frame needs N annotations when a PI asks for it (chosen frames, `require`) or, project-wide, when
`project.consensus_people` is 2 or more and an unannotated frame is claimed from an annotation queue.
Each claim of such a frame by someone who has not voted on it opens their own vote (a working copy
saved like a honeypot's, blind: they see the frame as unlabelled, never anyone's points); the frame
stays in its queue until N votes are in, and up to N people hold it at the same time, each with their
own lease (review/claims.py): nobody waits for another's vote to be submitted. Then the consensus
becomes the frame's annotation (a Revision of kind "consensus"), the agreement is stored, and the frame
is accepted when the people agree or goes to the review queue with the points they disagree on.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from annotations.consensus import building
from annotations.core import hot_path
from annotations.core.errors import InputError
from annotations.models import (
    Annotation,
    ConsensusFrame,
    ConsensusVote,
    Frame,
    FrameLease,
    FrameStatus,
    FrameTransition,
    KeypointState,
    Queue,
    QueueItem,
    QueueSkip,
    Revision,
)
from annotations.models.review import ANNOTATION_QUEUES
from annotations.review import claims, queues
from annotations.review.editing import box_around

MAX_PEOPLE = 10
COLLECTING = ConsensusFrame.Status.COLLECTING


def draft_id() -> int:
    """An id from the annotation id sequence: no annotation will ever have it."""
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('annotations_annotation', 'id'))")
        return cur.fetchone()[0]


def check_people(people) -> int:
    if isinstance(people, bool) or not isinstance(people, int) or not (people == 0 or 2 <= people <= MAX_PEOPLE):
        raise InputError(f"'people' must be 0 (no consensus) or 2 to {MAX_PEOPLE}")
    return people


def set_settings(project, people=None, threshold=None) -> None:
    if people is not None:
        project.consensus_people = check_people(people)
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise InputError("'threshold' must be a number from 0 to 1")
        project.consensus_threshold = float(threshold)
    project.save(update_fields=["consensus_people", "consensus_threshold"])


def require(project, frame_ids: list[int], people: int, user, queue: str = Queue.UNCERTAIN) -> dict:
    """Chosen frames need `people` independent annotations: each is put first in `queue` (an annotation
    queue) to be claimed by that many people. A frame with a finished consensus is refused."""
    if check_people(people) < 2:
        raise InputError("'people' must be 2 or more here")
    if queue not in ANNOTATION_QUEUES:
        raise InputError(f"'queue' must be one of {', '.join(ANNOTATION_QUEUES)}")
    frames = {f.pk: f for f in Frame.objects.filter(project=project, pk__in=frame_ids)}
    required, refused = [], []
    with transaction.atomic():
        for frame_id in dict.fromkeys(frame_ids):
            frame = frames.get(frame_id)
            if frame is None:
                refused.append({"frame": frame_id, "reason": "no such frame in this project"})
                continue
            cf, created = ConsensusFrame.objects.get_or_create(
                frame=frame, defaults={"project": project, "required": people, "requested_by": user})
            if not created and cf.status != COLLECTING:
                refused.append({"frame": frame_id, "reason": "its consensus is finished already"})
                continue
            if not created:
                cf.required = max(people, cf.votes.filter(status=ConsensusVote.Status.SUBMITTED).count())
                cf.save(update_fields=["required"])
            queues.requeue(frame, queue, signals={})
            required.append(frame_id)
    return {"required": required, "refused": refused}


def clip_frames(project, clip_key: str) -> list[int]:
    """Ids of every frame of a clip (by key), last first: require puts each first in line in turn, so the
    clip's first frame ends first. InputError naming 'clip' when the clip has no frames here."""
    ids = list(project.frames.filter(clip__key=clip_key).order_by("-frame_index", "-id").values_list("id", flat=True))
    if not ids:
        raise InputError(f"'clip': there is no clip {clip_key[:200]!r} with frames in this project")
    return ids


def on_claim(project, item: QueueItem, user) -> str | None:
    """What a claim of `item` means for consensus: "vote" (the person works on their own vote: opened
    now or held), "skip" (they voted already: offer them the next frame), "full" (the frame's places were
    all taken a moment ago, through another queue: offer them the next frame, this one may come back)
    or None (no consensus here)."""
    if project.consensus_people < 2 and not hot_path.any_row(ConsensusFrame._meta.db_table, "frame_id = %s",
                                                             [item.frame_id]):
        return None  # the common case, asked on every claim: answered without building a queryset
    cf = ConsensusFrame.objects.filter(frame_id=item.frame_id).first()
    if cf is None and project.consensus_people >= 2 and not Annotation.objects.filter(frame_id=item.frame_id).exists():
        cf, _ = ConsensusFrame.objects.get_or_create(
            frame_id=item.frame_id, defaults={"project": project, "required": project.consensus_people})
    if cf is None or cf.status != COLLECTING:
        return None
    vote = ConsensusVote.objects.filter(consensus=cf, user=user).first()
    if vote is not None:
        return "vote" if vote.status == ConsensusVote.Status.OPEN else "skip"
    if not _has_place(cf, user):
        return "full"
    ConsensusVote.objects.create(project=project, consensus=cf, frame_id=item.frame_id, user=user,
                                 queue=item.queue, item_id=item.pk, draft_id=draft_id())
    return "vote"


def _has_place(cf: ConsensusFrame, user) -> bool:
    """Whether the submitted votes and the unexpired leases of other people on the frame are fewer than
    `required`. The claim query asked already, but two people joining through two queues at once each
    saw the other's lease missing: joiners recount one at a time (a lock per frame, held to the end of
    the claim's transaction; submitting never takes it), each seeing the leases committed before."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('consensus:join'), %s)", [cf.frame_id])
        cur.execute("SELECT " + claims.TAKEN_PLACES.format(consensus="%s", frame="%s"),
                    [cf.pk, cf.frame_id, timezone.now(), user.pk])
        return cur.fetchone()[0] < cf.required


def _done_for(frame_id: int, user) -> None:
    """The person is done with the frame: their lease ends and its queue items are not offered to them again."""
    FrameLease.objects.filter(frame_id=frame_id, user=user).delete()
    items = QueueItem.objects.filter(frame_id=frame_id, queue__in=ANNOTATION_QUEUES, done_at__isnull=True)
    QueueSkip.objects.bulk_create([QueueSkip(item=i, user=user) for i in items], ignore_conflicts=True)


def skip_vote(vote: ConsensusVote, user) -> None:
    ConsensusVote.objects.filter(pk=vote.pk, status=ConsensusVote.Status.OPEN).update(
        status=ConsensusVote.Status.SKIPPED)
    _done_for(vote.frame_id, user)


def submit_vote(vote: ConsensusVote, user) -> ConsensusVote:
    """The person's vote is in; with the last one needed, the consensus is built and applied."""
    with transaction.atomic():
        vote = ConsensusVote.objects.select_for_update(of=("self",)).get(pk=vote.pk, user=user)
        if vote.status != ConsensusVote.Status.OPEN:
            raise InputError("this frame was submitted already")
        if not vote.version:
            raise InputError("nothing to submit: place the keypoints of this frame first")
        vote.status, vote.submitted_at = ConsensusVote.Status.SUBMITTED, timezone.now()
        vote.save(update_fields=["status", "submitted_at", "updated_at"])
        _done_for(vote.frame_id, user)
        cf = ConsensusFrame.objects.select_for_update().select_related("project", "frame").get(pk=vote.consensus_id)
        if cf.status == COLLECTING and cf.votes.filter(status=ConsensusVote.Status.SUBMITTED).count() >= cf.required:
            apply(cf)
    return vote


def apply(cf: ConsensusFrame) -> ConsensusFrame:
    """Build the consensus of the submitted votes, write it as the frame's annotation and route the frame."""
    project, frame = cf.project, cf.frame
    votes = list(cf.votes.filter(status=ConsensusVote.Status.SUBMITTED).select_related("user"))
    result = building.consensus([(v.keypoints, v.form_label or None) for v in votes], project.skeleton["sigmas"],
                                project.consensus_threshold)
    kpts = result["keypoints"]
    states = [KeypointState.VERIFIED.value if kpts[3 * i + 2] > 0 else KeypointState.UNVERIFIED.value
              for i in range(len(kpts) // 3)]
    label = project.form_labels.filter(name=result["form_label"]).first() if result["form_label"] else None
    bbox, area = box_around(kpts)
    ann = Annotation.objects.select_for_update().filter(frame=frame, instance=0).first()
    before = ann.snapshot() if ann is not None else None
    if ann is None:
        ann = Annotation(project=project, frame=frame, instance=0, version=0)
    ann.keypoints, ann.keypoint_states, ann.bbox, ann.area, ann.form_label = kpts, states, bbox, area, label
    ann.version += 1
    ann.source, ann.human_edited, ann.updated_by = "consensus", True, None
    ann.save()
    names = project.skeleton["keypoints"]
    summary = (f"consensus of {len(votes)} people ({', '.join(v.user.get_username() for v in votes)}): "
               f"mean pairwise OKS {result['mean_oks']}")
    Revision.objects.create(project=project, frame=frame, annotation=ann, user=None, kind="consensus",
                            before=before, after=ann.snapshot(), note=summary)
    for field in ("keypoints", "oks_per_keypoint", "mean_oks", "form_agreement", "disagreeing"):
        setattr(cf, field, result[field])
    cf.form_label, cf.completed_at = result["form_label"], timezone.now()
    cf.status = ConsensusFrame.Status.AGREED if result["agreed"] else ConsensusFrame.Status.DISPUTED
    cf.save()
    claims.close_items(frame, None, ANNOTATION_QUEUES)
    to_status = FrameStatus.ACCEPTED if result["agreed"] else FrameStatus.SUBMITTED
    FrameTransition.objects.create(project=project, frame=frame, user=None,
                                   action="accept" if result["agreed"] else "submit", from_status=frame.status,
                                   to_status=to_status, comment=summary)
    Frame.objects.filter(pk=frame.pk).update(status=to_status)
    if not result["agreed"]:
        disagreeing = [names[k] for k in result["disagreeing"]]
        counts = ", ".join(f"{v.user.get_username()}: {v.form_label or 'none'}" for v in votes)
        queues.set_priorities(project, Queue.REVIEW, {frame.pk: -timezone.now().timestamp()}, {frame.pk: {
            "consensus": f"{len(votes)} people disagree (mean pairwise OKS {result['mean_oks']}); form labels "
                         f"{counts}; compare them at {reverse('consensus-compare', args=[project.slug, frame.pk])}",
            "disagreeing_points": disagreeing}}, reopen=True)
    return cf


def state(frame_ids) -> dict[int, dict]:
    """{frame id: {required, submitted, status, mean_oks, form_agreement, disagreeing (names)}}."""
    out = {}
    rows = (ConsensusFrame.objects.filter(frame_id__in=list(frame_ids)).select_related("project")
            .annotate(submitted=Count("votes", filter=Q(votes__status=ConsensusVote.Status.SUBMITTED))))
    for cf in rows:
        names = cf.project.skeleton["keypoints"]
        out[cf.frame_id] = {"required": cf.required, "status": cf.status, "submitted": cf.submitted,
                            "mean_oks": cf.mean_oks, "form_agreement": cf.form_agreement,
                            "disagreeing": [names[k] for k in cf.disagreeing if k < len(names)]}
    return out
