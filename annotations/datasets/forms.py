"""HTML forms that start jobs; each turns its cleaned data into job params."""

from django import forms

from annotations.core.errors import InputError
from annotations.core.files import save_upload
from annotations.core.storage import in_place_refusal
from annotations.datasets.imports import import_roots, server_path
from annotations.models import Project, Role

SUBSETS = [("train", "train"), ("val", "val"), ("test", "test"), ("all", "all annotated frames")]


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="COCO / CVAT 'COCO Keypoints 1.0' JSON, or a CVAT export zip")
    annotation_path = forms.CharField(required=False, help_text="or: a JSON file on the server")
    images_dir = forms.CharField(required=False, help_text="server folder with the images")
    copy_images = forms.BooleanField(required=False, help_text="copy images into media storage")
    form_label = forms.ChoiceField(required=False)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        form_label = self.fields["form_label"]
        assert isinstance(form_label, forms.ChoiceField)  # declared above; `fields` is typed as plain Fields
        form_label.choices = [("", "(none / from the file)")] + [
            (f.name, f.display_name) for f in project.form_labels.all()]
        roots = import_roots()
        if roots:
            inside = f" (inside {', '.join(roots)})"
            self.fields["annotation_path"].help_text = f"or: a JSON file on the server{inside}"
            self.fields["images_dir"].help_text = f"server folder with the images{inside}"
        else:
            off = "reading files on the server is off (POSEREVIEW_IMPORT_ROOTS is not set): upload a file"
            self.fields["annotation_path"].help_text = self.fields["images_dir"].help_text = off
        if in_place_refusal():
            self.fields["copy_images"].initial = True
            self.fields["copy_images"].help_text = ("copy images into media storage (needed: media are on an "
                                                   "object store, which other workers read frames from)")

    def clean(self):
        """Server paths resolved (symlinks included) and checked against POSEREVIEW_IMPORT_ROOTS."""
        data = super().clean()
        if not data.get("file") and not data.get("annotation_path"):
            raise forms.ValidationError("choose a file to upload or give a path on the server")
        checks = [("images_dir", True)] + ([] if data.get("file") else [("annotation_path", False)])
        for field, folder in checks:
            if data.get(field):
                try:
                    data[field] = server_path(data[field], field, folder=folder)
                except InputError as exc:
                    self.add_error(field, str(exc))
        if data.get("images_dir") and not data.get("copy_images") and (refusal := in_place_refusal()):
            self.add_error("copy_images", refusal)
        return data

    def job_params(self) -> dict:
        d = self.cleaned_data
        params = {"form_label": d["form_label"] or None, "copy_images": d["copy_images"],
                  "images_dir": d["images_dir"] or None}
        upload = d.get("file")
        if upload:
            params["upload"], path = save_upload(upload)
            params["source_name"] = upload.name
            params["zip" if upload.name.lower().endswith(".zip") else "annotation_path"] = path
        else:
            params["annotation_path"] = d["annotation_path"]
        return params


class SplitForm(forms.Form):
    train = forms.FloatField(initial=0.7, min_value=0, max_value=1)
    val = forms.FloatField(initial=0.15, min_value=0, max_value=1)
    test = forms.FloatField(initial=0.15, min_value=0, max_value=1)
    seed = forms.IntegerField(initial=42)
    fresh = forms.BooleanField(required=False, help_text="reassign every clip (default keeps earlier assignments)")

    def job_params(self) -> dict:
        d = self.cleaned_data
        return {"ratios": {k: d[k] for k in ("train", "val", "test")}, "seed": d["seed"], "fresh": d["fresh"]}


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("coco", "COCO JSON"), ("yolo_pose", "Ultralytics YOLO-pose"),
                                        ("mmpose", "MMPose (COCO + metainfo + RTMPose config)"),
                                        ("cvat_coco", "CVAT: COCO Keypoints 1.0"),
                                        ("cvat_xml", "CVAT for images 1.1 (XML)")])
    subsets = forms.MultipleChoiceField(choices=SUBSETS, initial=["train", "val", "test"],
                                        widget=forms.CheckboxSelectMultiple)
    include_images = forms.BooleanField(required=False)
    include_unconfirmed = forms.BooleanField(
        required=False, help_text="also write points no person has confirmed (heuristic, predicted, "
                                  "interpolated); by default they are unlabelled")

    def job_params(self) -> dict:
        return dict(self.cleaned_data)


class MergeForm(forms.Form):
    projects = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    into = forms.SlugField(required=False, help_text="optional: import the merged dataset into this project")

    def __init__(self, *args, user, project, **kwargs):
        super().__init__(*args, **kwargs)
        visible = [p for p in Project.visible_to(user) if p.has_role(user, Role.REVIEWER)]
        self.fields["projects"].choices = [(p.slug, p.name) for p in visible]
        self.fields["projects"].initial = [project.slug]

    def job_params(self) -> dict:
        return {"projects": self.cleaned_data["projects"], "into": self.cleaned_data["into"] or None}
