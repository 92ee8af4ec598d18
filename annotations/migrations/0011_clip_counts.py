"""Per-clip counts (annotations.models.counts.ClipCounts), the triggers that keep them, and the indexes
the dashboards read open items' age and people's edits and accepts through.

annotations_recount_clips(ids) recomputes the rows of the given clips from their frames and annotations
(set-based: an import of 100,000 frames recounts its 2,500 clips in one statement). Statement-level
triggers on frames and annotations call it with the clips a statement touched; for updates, only where
a counted column changed (an edit of an annotation's points alone recounts nothing). A trigger on clips
drops a deleted clip's row. The migration fills the table for existing data.
"""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION annotations_recount_clips(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- One recount of a clip at a time: two transactions changing frames of the same clip would both
    -- delete its row and both insert one (a unique violation), or the later would count from a snapshot
    -- without the other's rows. The lock waits for the other to commit; the statements below then see it.
    PERFORM 1 FROM annotations_clip WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    DELETE FROM annotations_clipcounts WHERE clip_id = ANY(ids);
    INSERT INTO annotations_clipcounts (clip_id, project_id, frames, missing_images, annotated, by_status,
                                        by_split_label, first_hours, first_minutes, first_min, first_max)
    WITH f AS (
        SELECT id, clip_id, status, split, (image = '' AND source_path = '') AS missing
        FROM annotations_frame WHERE clip_id = ANY(ids)),
    statuses AS (
        SELECT clip_id, sum(n)::int AS frames, sum(missing)::int AS missing, jsonb_object_agg(status, n) AS by_status
        FROM (SELECT clip_id, status, count(*) AS n, count(*) FILTER (WHERE missing) AS missing
              FROM f GROUP BY clip_id, status) s
        GROUP BY clip_id),
    fa AS MATERIALIZED (
        SELECT f.clip_id, f.id AS frame_id, f.split, a.form_label_id, a.created_at
        FROM f JOIN annotations_annotation a ON a.frame_id = f.id),
    labelled AS (
        SELECT clip_id, jsonb_object_agg(split || '|' || coalesce(form_label_id::text, ''), n) AS by_split_label
        FROM (SELECT clip_id, split, form_label_id, count(DISTINCT frame_id) AS n FROM fa GROUP BY 1, 2, 3) p
        GROUP BY clip_id),
    -- When each annotated frame was first annotated, counted per hour and per minute (UTC).
    firsts AS (SELECT clip_id, frame_id, min(created_at) AS t FROM fa GROUP BY clip_id, frame_id),
    first_hours AS (
        SELECT clip_id, jsonb_object_agg(h, n) AS hours
        FROM (SELECT clip_id, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS h, count(*) AS n
              FROM firsts GROUP BY 1, 2) x GROUP BY clip_id),
    first_minutes AS (
        SELECT clip_id, jsonb_object_agg(m, n) AS minutes
        FROM (SELECT clip_id, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS m, count(*) AS n
              FROM firsts GROUP BY 1, 2) x GROUP BY clip_id),
    first_bounds AS (SELECT clip_id, count(*)::int AS annotated, min(t) AS lo, max(t) AS hi
                     FROM firsts GROUP BY clip_id)
    SELECT c.id, c.project_id, coalesce(s.frames, 0), coalesce(s.missing, 0), coalesce(fb.annotated, 0),
           coalesce(s.by_status, '{}'::jsonb), coalesce(l.by_split_label, '{}'::jsonb), coalesce(fh.hours, '{}'::jsonb),
           coalesce(fm.minutes, '{}'::jsonb), fb.lo, fb.hi
    FROM annotations_clip c
    LEFT JOIN statuses s ON s.clip_id = c.id
    LEFT JOIN labelled l ON l.clip_id = c.id
    LEFT JOIN first_hours fh ON fh.clip_id = c.id
    LEFT JOIN first_minutes fm ON fm.clip_id = c.id
    LEFT JOIN first_bounds fb ON fb.clip_id = c.id
    WHERE c.id = ANY(ids);
END $$;

CREATE FUNCTION annotations_clipcounts_frames() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM annotations_recount_clips(ARRAY(SELECT DISTINCT clip_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM annotations_recount_clips(ARRAY(SELECT DISTINCT clip_id FROM old_rows));
    ELSE
        PERFORM annotations_recount_clips(ARRAY(
            SELECT DISTINCT unnest(ARRAY[o.clip_id, n.clip_id]) FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.clip_id, o.status, o.split, o.image, o.source_path)
                  IS DISTINCT FROM (n.clip_id, n.status, n.split, n.image, n.source_path)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER clipcounts_new_frames AFTER INSERT ON annotations_frame
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_frames();
CREATE TRIGGER clipcounts_deleted_frames AFTER DELETE ON annotations_frame
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_frames();
CREATE TRIGGER clipcounts_changed_frames AFTER UPDATE ON annotations_frame
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_frames();

-- A deleted frame's annotations may go after the frame (or with it): their clip is read from the frame
-- where it still exists; the frame trigger has recounted the clip otherwise.
CREATE FUNCTION annotations_clipcounts_annotations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM annotations_recount_clips(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (SELECT frame_id FROM new_rows)));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM annotations_recount_clips(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (SELECT frame_id FROM old_rows)));
    ELSE
        PERFORM annotations_recount_clips(ARRAY(
            SELECT DISTINCT f.clip_id FROM annotations_frame f WHERE f.id IN (
                SELECT unnest(ARRAY[o.frame_id, n.frame_id]) FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.frame_id, o.form_label_id, o.created_at)
                      IS DISTINCT FROM (n.frame_id, n.form_label_id, n.created_at))));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER clipcounts_new_annotations AFTER INSERT ON annotations_annotation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_annotations();
CREATE TRIGGER clipcounts_deleted_annotations AFTER DELETE ON annotations_annotation
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_annotations();
CREATE TRIGGER clipcounts_changed_annotations AFTER UPDATE ON annotations_annotation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_annotations();

CREATE FUNCTION annotations_clipcounts_clips() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM annotations_clipcounts WHERE clip_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER clipcounts_deleted_clips AFTER DELETE ON annotations_clip
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotations_clipcounts_clips();

SELECT annotations_recount_clips(ARRAY(SELECT id FROM annotations_clip));
"""

DROP = """
DROP TRIGGER IF EXISTS clipcounts_deleted_clips ON annotations_clip;
DROP TRIGGER IF EXISTS clipcounts_new_annotations ON annotations_annotation;
DROP TRIGGER IF EXISTS clipcounts_deleted_annotations ON annotations_annotation;
DROP TRIGGER IF EXISTS clipcounts_changed_annotations ON annotations_annotation;
DROP TRIGGER IF EXISTS clipcounts_new_frames ON annotations_frame;
DROP TRIGGER IF EXISTS clipcounts_deleted_frames ON annotations_frame;
DROP TRIGGER IF EXISTS clipcounts_changed_frames ON annotations_frame;
DROP FUNCTION IF EXISTS annotations_clipcounts_clips();
DROP FUNCTION IF EXISTS annotations_clipcounts_annotations();
DROP FUNCTION IF EXISTS annotations_clipcounts_frames();
DROP FUNCTION IF EXISTS annotations_recount_clips(bigint[]);
"""

class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0010_compact_keypoint_columns'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClipCounts',
            fields=[
                ('clip', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='annotations.clip')),
                ('frames', models.IntegerField(default=0)),
                ('missing_images', models.IntegerField(default=0)),
                ('annotated', models.IntegerField(default=0)),
                ('by_status', models.JSONField(default=dict)),
                ('by_split_label', models.JSONField(default=dict)),
                ('first_hours', models.JSONField(default=dict)),
                ('first_minutes', models.JSONField(default=dict)),
                ('first_min', models.DateTimeField(null=True)),
                ('first_max', models.DateTimeField(null=True)),
                ('project', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='annotations.project')),
            ],
        ),
        migrations.AddIndex(
            model_name='queueitem',
            index=models.Index(models.F('project'), models.F('queue'), models.F('updated_at'), condition=models.Q(('done_at__isnull', True)), name='queue_open_age'),
        ),
        migrations.AddIndex(
            model_name='frametransition',
            index=models.Index(condition=models.Q(('action__in', ['accept', 'fix'])), fields=['project', 'frame', 'created_at'], name='transition_accepts_by_frame'),
        ),
        migrations.AddIndex(
            model_name='revision',
            index=models.Index(condition=models.Q(('kind__in', ['edit', 'restore'])), fields=['project', 'frame', 'user', 'created_at'], name='revision_edits_by_frame'),
        ),
        migrations.AddIndex(
            model_name='revision',
            index=models.Index(condition=models.Q(('kind__in', ['edit', 'restore'])), fields=['project', 'user', 'created_at'], include=('frame',), name='revision_edits_by_user'),
        ),
        migrations.RunSQL(TRIGGERS, DROP),
    ]
