"""The COCO export from boxes fields: categories per label, one image per answered task, one annotation per box."""

import json

import pytest

from tests.annotation import exports_support
from tests.annotation.exports_support import (
    bare_world,
    build_world,
    iso,
    run_export,
)
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root


def test_categories_images_and_boxes_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "coco")

    assert body.endswith(b"]}\n")
    assert json.loads(body) == {
        "info": {"description": f"Annotate export {job.uuid}", "date_created": iso(job.created_at)},
        "licenses": [],
        "categories": [
            {"id": 1, "name": "car", "supercategory": "vehicles"},
            {"id": 2, "name": "bus", "supercategory": "vehicles"},
        ],
        # t1 only: A drew two boxes, B answered "no vehicles" (still a labelled image); t2 and t3 have no boxes.
        "images": [
            {
                "id": 1,
                "file_name": "https://media.example.org/1.jpg",
                "width": 200,
                "height": 100,
                "task_id": str(w.t1.uuid),
                "external_id": "t1",
            }
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [20, 10, 50, 40],
                "area": 2000,
                "iscrowd": 0,
                "annotation_id": str(w.a1.uuid),
                "annotator": w.pa,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "bbox": [100, 50, 100, 50],
                "area": 5000,
                "iscrowd": 0,
                "annotation_id": str(w.a1.uuid),
                "annotator": w.pa,
            },
        ],
    }
    assert job.rows == 2


def test_a_storage_key_names_the_image_and_fractional_boxes_keep_their_area(tenant, object_root):
    schema = {"fields": [{"name": "boxes", "type": "boxes", "source": "photo", "labels": ["cat"]}]}
    project = ProjectFactory(label_schema=schema)
    photo = {"key": "orgs/x/media/p/cat.png", "width": 64, "height": 48}
    task = TaskFactory(project=project, data={"photo": photo})
    AnnotationFactory(
        project=project, task=task, result={"boxes": [{"x": 1.5, "y": 2, "width": 10.5, "height": 4, "label": "cat"}]}
    )
    empty = TaskFactory(project=project, data={"photo": photo})
    AnnotationFactory(project=project, task=empty, result={})

    job, body = run_export(bare_world(project), "coco")

    document = json.loads(body)
    assert [(i["id"], i["file_name"], i["external_id"]) for i in document["images"]] == [
        (1, "orgs/x/media/p/cat.png", task.external_id)
    ]
    assert [(a["bbox"], a["area"], a["category_id"]) for a in document["annotations"]] == [([1.5, 2, 10.5, 4], 42.0, 1)]
    assert job.rows == 1


def test_a_project_whose_boxes_nobody_drew_gives_an_empty_but_valid_document(tenant, object_root):
    schema = {
        "fields": [
            {"name": "label", "type": "choices", "options": ["a", "b"]},
            {"name": "boxes", "type": "boxes", "source": "image", "labels": ["car"], "required": False},
        ]
    }
    project = ProjectFactory(label_schema=schema)
    AnnotationFactory(project=project, task=TaskFactory(project=project), result={"label": "a"})

    job, body = run_export(bare_world(project), "coco")

    document = json.loads(body)
    assert (document["images"], document["annotations"], job.rows) == ([], [], 0)
    assert document["categories"] == [{"id": 1, "name": "car", "supercategory": "boxes"}]


def test_pycocotools_loads_the_file_and_scores_its_own_boxes_perfectly(tenant, object_root, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    w = build_world()
    _, body = run_export(w, "coco")
    path = tmp_path / "export.coco.json"
    path.write_bytes(body)

    coco = COCO(str(path))

    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == [(1, "car"), (2, "bus")]
    assert [(i["file_name"], i["width"], i["height"]) for i in coco.loadImgs(coco.getImgIds())] == [
        ("https://media.example.org/1.jpg", 200, 100)
    ]
    assert [(a["category_id"], a["bbox"], a["area"]) for a in coco.loadAnns(coco.getAnnIds(imgIds=[1]))] == [
        (1, [20, 10, 50, 40], 2000),
        (2, [100, 50, 100, 50], 5000),
    ]
    assert coco.getAnnIds(catIds=[2]) == [2]
    # The file is usable as ground truth: detections equal to its boxes score an average precision of 1.
    detections = coco.loadRes(
        [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
         for a in coco.loadAnns(coco.getAnnIds())]
    )  # fmt: skip
    evaluation = COCOeval(coco, detections, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
