"""Scoring a honeypot the way the queues serve one, for fixtures of other areas' tests (dashboards)."""

from __future__ import annotations


def submit_honeypot(project, frame_id: int, marker, person, shift: float = 4.0):
    """Mark `frame_id` gold (by `marker`), serve it to `person` through the uncertain queue and submit it
    with the gold's first point `shift` px off; returns the scored GoldAttempt. The rate is left as it was."""
    from annotations.gold import attempts, marking, serving

    rate = project.honeypot_rate
    marking.mark(project, [frame_id], marker)
    marking.set_rate(project, 1)
    item = serving.claim_next(project, "uncertain", person)
    assert item is not None and item.frame_id == frame_id
    attempt = attempts.open_attempt(item.frame, person)
    kp = list(attempt.gold.keypoints)
    kp[0] += shift
    attempts.create_draft(attempt, person, {"keypoints": kp, "form_label": attempt.gold.form_label or None})
    marking.set_rate(project, rate)
    return attempts.submit(attempt, person)
