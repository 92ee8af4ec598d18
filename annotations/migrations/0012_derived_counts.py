"""Per-clip keypoint counts (ClipKeypointCounts) and per-pair agreement (AgreementPair), kept by triggers,
so the dashboard's spine and agreement charts read a few thousand rows instead of every annotation and
every revision snapshot.

annotations_recount_clip_keypoints(ids) recounts the given clips' labelled and verified points; it runs
on statements that add or remove annotations or change their points or frame, and on frames that move
clip or go (the per-clip counts of 0011 stay as they were: a frame's status change recounts no points).
annotations_rescore_frames(ids) recomputes the OKS between every two people's last edit/restore snapshots
of the given frames (mlcore.metrics.oks, in SQL); it runs on revision statements that can change them.
Both lock the rows they recount for (clips, frames) first so that concurrent writers recount one after
the other and the later one sees the earlier's rows.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION annotations_recount_clip_keypoints(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM annotations_clip WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    DELETE FROM annotations_clipkeypointcounts WHERE clip_id = ANY(ids);
    -- Point i (1-based) is labelled when its visibility keypoints[3i] > 0; state 1 is "verified".
    INSERT INTO annotations_clipkeypointcounts (clip_id, project_id, labelled, verified)
    SELECT c.id, c.project_id, coalesce(k.labelled, '{}'), coalesce(k.verified, '{}')
    FROM annotations_clip c LEFT JOIN (
        SELECT clip_id, array_agg(l ORDER BY i) AS labelled, array_agg(v ORDER BY i) AS verified
        FROM (SELECT f.clip_id, i, count(*) FILTER (WHERE coalesce(a.keypoints[3 * i], 0) > 0)::int AS l,
                     count(*) FILTER (WHERE coalesce(a.keypoints[3 * i], 0) > 0
                                      AND a.keypoint_states[i] = 1)::int AS v
              FROM annotations_frame f JOIN annotations_annotation a ON a.frame_id = f.id,
                   generate_series(1, cardinality(a.keypoints) / 3) i
              WHERE f.clip_id = ANY(ids) GROUP BY 1, 2) per
        GROUP BY clip_id) k ON k.clip_id = c.id
    WHERE c.id = ANY(ids);
END $$;

CREATE FUNCTION annotations_clipkeypoints_annotations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM annotations_recount_clip_keypoints(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (SELECT frame_id FROM new_rows)));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM annotations_recount_clip_keypoints(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (SELECT frame_id FROM old_rows)));
    ELSE
        PERFORM annotations_recount_clip_keypoints(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (
                SELECT unnest(ARRAY[o.frame_id, n.frame_id]) FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.frame_id, o.keypoints, o.keypoint_states)
                      IS DISTINCT FROM (n.frame_id, n.keypoints, n.keypoint_states))));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER clipkeypoints_new_annotations AFTER INSERT ON annotations_annotation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_annotations();
CREATE TRIGGER clipkeypoints_deleted_annotations AFTER DELETE ON annotations_annotation
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_annotations();
CREATE TRIGGER clipkeypoints_changed_annotations AFTER UPDATE ON annotations_annotation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_annotations();

-- A deleted frame's annotations may still exist (they go after it): its clip is recounted without them.
CREATE FUNCTION annotations_clipkeypoints_frames() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM annotations_recount_clip_keypoints(ARRAY(SELECT DISTINCT clip_id FROM old_rows));
    ELSE
        PERFORM annotations_recount_clip_keypoints(ARRAY(
            SELECT DISTINCT unnest(ARRAY[o.clip_id, n.clip_id]) FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.clip_id IS DISTINCT FROM n.clip_id));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER clipkeypoints_deleted_frames AFTER DELETE ON annotations_frame
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_frames();
CREATE TRIGGER clipkeypoints_changed_frames AFTER UPDATE ON annotations_frame
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_frames();

CREATE FUNCTION annotations_clipkeypoints_clips() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM annotations_clipkeypointcounts WHERE clip_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER clipkeypoints_deleted_clips AFTER DELETE ON annotations_clip
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipkeypoints_clips();

-- mlcore.metrics.oks(a's points, b's points, area, sigmas) term by term, in numpy's order of operations
-- (exp(-e) is 0 where PostgreSQL would raise an underflow, as numpy's is):
-- a pair's points are padded with unlabelled ones (or cut) to the skeleton's K = len(sigmas), the area is
-- b's (a's where b's is 0 or missing), and a pair with area <= 0 or no point labelled by both gets no row.
CREATE FUNCTION annotations_rescore_frames(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM annotations_frame WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    -- IN (SELECT unnest(ids)) rather than = ANY(ids) where rows are filtered, not looked up: a hash of
    -- 10,000 ids instead of a walk along the array for every row.
    DELETE FROM annotations_agreementpair WHERE frame_id IN (SELECT unnest(ids));
    INSERT INTO annotations_agreementpair (project_id, frame_id, user_a_id, user_b_id, oks, same_form_label)
    -- Each snapshot's points become a float8[] once (not a jsonb lookup per point and pair).
    WITH last AS MATERIALIZED (
        SELECT DISTINCT ON (frame_id, user_id) project_id, frame_id, user_id, after ->> 'form_label' AS label,
               (after ->> 'area')::float8 AS area,
               CASE WHEN jsonb_typeof(after -> 'keypoints') = 'array' THEN ARRAY(
                   SELECT v::float8 FROM jsonb_array_elements_text(after -> 'keypoints') WITH ORDINALITY x(v, n)
                   ORDER BY n) ELSE '{}' END AS kp
        FROM annotations_revision
        WHERE frame_id IN (SELECT unnest(ids)) AND kind IN ('edit', 'restore') AND after IS NOT NULL
              AND user_id IS NOT NULL
        ORDER BY frame_id, user_id, created_at DESC, id DESC),
    sigmas AS MATERIALIZED (
        SELECT id, ARRAY(SELECT v::float8 FROM jsonb_array_elements_text(skeleton -> 'sigmas') WITH ORDINALITY x(v, n)
                         ORDER BY n) AS s
        FROM annotations_project WHERE id IN (SELECT project_id FROM last)),
    pairs AS (
        SELECT a.project_id, a.frame_id, a.user_id AS ua, b.user_id AS ub, a.kp AS ka, b.kp AS kb,
               a.label IS NOT DISTINCT FROM b.label AS same, coalesce(nullif(b.area, 0), a.area, 0) AS area
        FROM last a JOIN last b ON b.frame_id = a.frame_id AND b.user_id <> a.user_id),
    terms AS (
        SELECT p.project_id, p.frame_id, p.ua, p.ub, p.same, p.area,
               coalesce(p.ka[3 * j], 0) AS va, coalesce(p.kb[3 * j], 0) AS vb,
               coalesce(p.ka[3 * j - 2], 0) - coalesce(p.kb[3 * j - 2], 0) AS dx,
               coalesce(p.ka[3 * j - 1], 0) - coalesce(p.kb[3 * j - 1], 0) AS dy, 2 * s.s[j] AS k
        FROM pairs p JOIN sigmas s ON s.id = p.project_id, generate_series(1, cardinality(s.s)) j
        WHERE p.area > 0)
    SELECT project_id, frame_id, ua, ub, sum(CASE WHEN e < 745 THEN exp(-e) ELSE 0 END) FILTER (WHERE vb > 0)
                                         / count(*) FILTER (WHERE vb > 0), same
    FROM (SELECT *, (dx * dx + dy * dy) / (k * k) / (area + 2.220446049250313e-16) / 2 AS e FROM terms) t
    GROUP BY project_id, frame_id, ua, ub, same
    HAVING count(*) FILTER (WHERE va > 0 AND vb > 0) > 0;
END $$;

-- Only edits and restores by a person with a snapshot after them take part.
CREATE FUNCTION annotations_agreement_revisions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM annotations_rescore_frames(ARRAY(
            SELECT DISTINCT frame_id FROM new_rows
            WHERE kind IN ('edit', 'restore') AND after IS NOT NULL AND user_id IS NOT NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM annotations_rescore_frames(ARRAY(
            SELECT DISTINCT frame_id FROM old_rows
            WHERE kind IN ('edit', 'restore') AND after IS NOT NULL AND user_id IS NOT NULL));
    ELSE
        PERFORM annotations_rescore_frames(ARRAY(
            SELECT DISTINCT unnest(ARRAY[o.frame_id, n.frame_id]) FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.frame_id, o.user_id, o.kind, o.after, o.created_at)
                  IS DISTINCT FROM (n.frame_id, n.user_id, n.kind, n.after, n.created_at)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER agreement_new_revisions AFTER INSERT ON annotations_revision
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_agreement_revisions();
CREATE TRIGGER agreement_deleted_revisions AFTER DELETE ON annotations_revision
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_agreement_revisions();
CREATE TRIGGER agreement_changed_revisions AFTER UPDATE ON annotations_revision
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_agreement_revisions();

SELECT annotations_recount_clip_keypoints(ARRAY(SELECT id FROM annotations_clip));
SELECT annotations_rescore_frames(ARRAY(
    SELECT DISTINCT frame_id FROM annotations_revision
    WHERE kind IN ('edit', 'restore') AND after IS NOT NULL AND user_id IS NOT NULL));
"""

DROP = """
DROP TRIGGER IF EXISTS agreement_new_revisions ON annotations_revision;
DROP TRIGGER IF EXISTS agreement_deleted_revisions ON annotations_revision;
DROP TRIGGER IF EXISTS agreement_changed_revisions ON annotations_revision;
DROP TRIGGER IF EXISTS clipkeypoints_deleted_clips ON annotations_clip;
DROP TRIGGER IF EXISTS clipkeypoints_deleted_frames ON annotations_frame;
DROP TRIGGER IF EXISTS clipkeypoints_changed_frames ON annotations_frame;
DROP TRIGGER IF EXISTS clipkeypoints_new_annotations ON annotations_annotation;
DROP TRIGGER IF EXISTS clipkeypoints_deleted_annotations ON annotations_annotation;
DROP TRIGGER IF EXISTS clipkeypoints_changed_annotations ON annotations_annotation;
DROP FUNCTION IF EXISTS annotations_agreement_revisions();
DROP FUNCTION IF EXISTS annotations_rescore_frames(bigint[]);
DROP FUNCTION IF EXISTS annotations_clipkeypoints_clips();
DROP FUNCTION IF EXISTS annotations_clipkeypoints_frames();
DROP FUNCTION IF EXISTS annotations_clipkeypoints_annotations();
DROP FUNCTION IF EXISTS annotations_recount_clip_keypoints(bigint[]);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0011_clip_counts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ClipKeypointCounts',
            fields=[
                ('clip', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='annotations.clip')),
                ('labelled', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('verified', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('project', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='annotations.project')),
            ],
        ),
        migrations.CreateModel(
            name='AgreementPair',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('oks', models.FloatField()),
                ('same_form_label', models.BooleanField()),
                ('frame', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='annotations.frame')),
                ('project', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='annotations.project')),
                ('user_a', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user_b', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['project', 'frame'], name='agreement_by_project')],
                'constraints': [models.UniqueConstraint(fields=('frame', 'user_a', 'user_b'), name='agreement_pair_once')],
            },
        ),
        migrations.RunSQL(TRIGGERS, DROP),
    ]
