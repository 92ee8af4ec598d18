"""What a PI changes in a project's settings: members and roles, the form-label set, the skeleton.

The skeleton only ever grows at its end, so every stored annotation stays a valid prefix. New
points start unlabelled, or (for spine points, on request) placed by the spine heuristic and
marked "heuristic" so reviewers confirm them; those annotations get a new version and Revision.
"""

from __future__ import annotations

import re
import secrets

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from annotations.core import passwords
from annotations.core.errors import InputError
from annotations.models import Annotation, FormLabel, KeypointState, Membership, Project, Revision, Role
from mlcore.skeletons import normalise_name
from mlcore.spine import fill_spine

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
INIT_MODES = ("unlabelled", "heuristic")


# -- members ---------------------------------------------------------------------------------

def _pi_count(project: Project) -> int:
    return project.memberships.filter(role=Role.PI).count()


def set_member(project: Project, username: str, role: str) -> Membership:
    """Add an existing user to the project with `role`, or change their role."""
    if role not in Role.values:
        raise InputError(f"role must be one of {Role.values}")
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise InputError(f"no user called {username!r}: create the account below instead")
    with transaction.atomic():
        membership = project.memberships.select_for_update().filter(user=user).first()
        if membership and membership.role == Role.PI and role != Role.PI and _pi_count(project) <= 1:
            raise InputError("a project needs at least one PI: make someone else PI first")
        if membership is None:
            membership = Membership.objects.create(project=project, user=user, role=role)
        else:
            membership.role = role
            membership.save(update_fields=["role"])
    return membership


USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def create_account(project: Project, username: str, role: str) -> tuple[Membership, str]:
    """A new account that is a member of `project` with `role`, and its temporary password (random,
    shown once to the PI who passes it on; the person changes it at /accounts/password/). No mail is
    sent. InputError for a taken or malformed username or an unknown role."""
    username = (username or "").strip()
    if not USERNAME.match(username):
        raise InputError("'username' must be 1-150 letters, digits or . @ + - _ (no spaces)")
    if role not in Role.values:
        raise InputError(f"'role' must be one of {', '.join(Role.values)}")
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise InputError(f"'username': an account called {username!r} exists already; add it as a member instead")
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_user(username, password=password)
        membership = Membership.objects.create(project=project, user=user, role=role)
        passwords.require_change(user)  # theirs to replace at the first sign-in
    return membership, password


def reset_password(project: Project, username: str, by) -> tuple[Membership, str]:
    """A new temporary password for a member who forgot theirs (shown once, replaced at their next sign-in;
    their sessions end). Refused for the PI themself (they change their own), an administrator, and a
    person who is also in a project `by` does not lead: a PI resets no one beyond their own projects."""
    membership = project.memberships.select_related("user").filter(user__username=(username or "").strip()).first()
    if membership is None:
        raise InputError(f"{username!r} is not a member of this project")
    user = membership.user
    if user.pk == by.pk:
        raise InputError("change your own password with Change password in the top bar")
    if user.is_superuser or user.is_staff:
        raise InputError(f"{user.username} is an administrator: their password is reset in the admin")
    elsewhere = [m.project for m in user.memberships.select_related("project").exclude(project=project)]
    if not all(p.has_role(by, Role.PI) for p in elsewhere):
        raise InputError(f"{user.username} is also in projects you do not lead: ask an administrator")
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user.set_password(password)  # a new password hash: their signed-in sessions end
        user.save(update_fields=["password"])
        passwords.require_change(user)
    return membership, password


def remove_member(project: Project, username: str) -> None:
    with transaction.atomic():
        membership = project.memberships.select_for_update().filter(user__username=username).first()
        if membership is None:
            raise InputError(f"{username!r} is not a member of this project")
        if membership.role == Role.PI and _pi_count(project) <= 1:
            raise InputError("a project needs at least one PI: make someone else PI first")
        membership.delete()


# -- form labels -----------------------------------------------------------------------------

def save_form_label(project: Project, name: str, display_name: str = "", colour: str = "#888888",
                    order: int | None = None) -> FormLabel:
    """Create a form label, or update the display name, colour and order of an existing one."""
    name = (name or "").strip()
    if not re.fullmatch(r"[a-z0-9_-]{1,50}", name):
        raise InputError("a form label name is 1-50 lower-case letters, digits, '_' or '-' (e.g. lumbar_error)")
    if not COLOUR.match(colour or ""):
        raise InputError("colour must look like #1f77b4")
    label = project.form_labels.filter(name=name).first()
    if label is None:
        order = project.form_labels.count() if order is None else order
        return FormLabel.objects.create(project=project, name=name, display_name=display_name or name,
                                        colour=colour, order=order)
    label.display_name = display_name or label.display_name
    label.colour = colour
    if order is not None:
        label.order = order
    label.save(update_fields=["display_name", "colour", "order"])
    return label


def delete_form_label(project: Project, name: str) -> None:
    """Delete an unused form label (a label on any annotation stays: relabel those frames first)."""
    label = project.form_labels.filter(name=name).first()
    if label is None:
        raise InputError(f"no form label {name!r}")
    try:
        label.delete()
    except (ProtectedError, RestrictedError):
        raise InputError(f"form label {name!r} is on {label.annotations.count()} annotations; "
                         "it cannot be deleted while in use") from None


# -- skeleton --------------------------------------------------------------------------------

def extend_skeleton(project: Project, names: list[str], init: str = "unlabelled", user=None,
                    sigma: float = 0.079) -> dict:
    """Append keypoints to the project's skeleton; returns {"added": [...], "heuristic_annotations": n}.

    init="heuristic" places new spine points (neck, hip, spine_01..05) on every stored annotation
    by the spine heuristic, marked heuristic (unverified); other new points start unlabelled.
    """
    if init not in INIT_MODES:
        raise InputError(f"init must be one of {INIT_MODES}")
    clean = [normalise_name(n) for n in names if n and n.strip()]
    if not clean:
        raise InputError("name at least one keypoint to add")
    bad = [n for n in clean if not re.fullmatch(r"[a-z0-9_]+", n)]
    if bad:
        raise InputError(f"keypoint names are letters, digits and '_': {bad}")
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        existing = set(project.skeleton["keypoints"])
        dup = sorted({n for n in clean if n in existing or clean.count(n) > 1})
        if dup:
            raise InputError(f"the skeleton already has (or you named twice): {dup}")
        old_k = project.num_keypoints
        project.add_keypoints(clean, [sigma] * len(clean))
        placed = _place_heuristic(project, old_k, user) if init == "heuristic" else 0
    return {"added": clean, "heuristic_annotations": placed}


def _place_heuristic(project: Project, old_k: int, user) -> int:
    """Fill the new points (index >= old_k) of every annotation by the spine heuristic; returns how many changed."""
    skeleton = project.get_skeleton()
    K = skeleton.num_keypoints
    anns = list(Annotation.objects.select_for_update(of=("self",)).filter(project=project).select_related("form_label"))
    if not anns:
        return 0
    padded = np.array([a.padded_keypoints(K)[0] for a in anns], dtype=np.float64).reshape(len(anns), K, 3)
    filled, mask = fill_spine(padded, skeleton)
    mask[:, :old_k] = False  # only the points this change added; earlier ones are people's work
    changed, revisions = [], []
    for n, ann in enumerate(anns):
        if not mask[n].any():
            continue
        before = ann.snapshot()
        kpts, states = ann.padded_keypoints(K)
        for i in np.flatnonzero(mask[n]):
            kpts[3 * i:3 * i + 3] = [round(float(filled[n, i, 0]), 2), round(float(filled[n, i, 1]), 2), 1]
            states[i] = KeypointState.HEURISTIC.value
        ann.keypoints, ann.keypoint_states = kpts, [str(s) for s in states]
        ann.num_keypoints = sum(1 for v in kpts[2::3] if v > 0)
        ann.version += 1
        changed.append(ann)
        revisions.append(Revision(project=project, frame_id=ann.frame_id, annotation=ann, user=user, kind="edit",
                                  before=before, after=ann.snapshot(),
                                  note="skeleton grew: new spine points placed by the heuristic"))
    Annotation.objects.bulk_update(changed, ["keypoints", "keypoint_states", "num_keypoints", "version"],
                                   batch_size=2000)
    Revision.objects.bulk_create(revisions, batch_size=2000)
    return len(changed)
