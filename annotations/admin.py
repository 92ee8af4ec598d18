from django.contrib import admin

from annotations.models import (
    Annotation,
    Clip,
    FormLabel,
    Frame,
    ImportSource,
    Job,
    Membership,
    Project,
    Revision,
    SplitVersion,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


class FormLabelInline(admin.TabularInline):
    model = FormLabel
    extra = 1


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "skeleton_preset", "created_at"]
    inlines = [MembershipInline, FormLabelInline]


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ["file_name", "project", "clip", "split", "status"]
    list_filter = ["project", "split", "status"]
    search_fields = ["file_name"]
    raw_id_fields = ["clip", "source"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "frame", "form_label", "source", "version", "updated_at"]
    raw_id_fields = ["frame"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "project", "status", "progress", "created_by", "created_at"]
    list_filter = ["kind", "status"]


admin.site.register([Clip, ImportSource, Revision, SplitVersion])
