"""Finishing a consensus frame the way the queues collect one, for fixtures of other areas' tests (dashboards)."""

from __future__ import annotations


def finish_consensus(project, frame_id: int, people, shifts, requester):
    """Ask for len(people) independent annotations of `frame_id` (by `requester`), serve it to each person
    through the uncertain queue and submit their vote: the frame's verified points moved `shifts[i]` px along x,
    with the frame's own form label. Returns the finished ConsensusFrame."""
    from annotations.consensus import voting
    from annotations.gold import attempts, serving
    from annotations.models import ConsensusFrame

    assert voting.require(project, [frame_id], len(people), requester)["required"] == [frame_id]
    for person, dx in zip(people, shifts, strict=True):
        item = serving.claim_next(project, "uncertain", person)
        assert item is not None and item.frame_id == frame_id
        vote = attempts.open_attempt(item.frame, person)
        attempts.submit(attempts.create_draft(vote, person, placed(project, frame_id, dx)), person)
    return ConsensusFrame.objects.get(frame_id=frame_id)


def placed(project, frame_id: int, dx: float) -> dict:
    """A vote on an annotated frame: its person-verified points (not the heuristic spine, say) moved dx px
    along x, with its own form label."""
    from annotations.models import Annotation

    ann = Annotation.objects.select_related("form_label").get(frame_id=frame_id, instance=0)
    kpts, states = ann.padded_keypoints(project.num_keypoints)
    kp = [0.0 if states[i // 3] != "verified" else v + dx if i % 3 == 0 else v for i, v in enumerate(kpts)]
    return {"keypoints": kp, "form_label": ann.form_label.name if ann.form_label else None}
