import torch

from analysis.segmentation import canvas_figure, point_parts_figure, predict
from m2pt.tasks import get_task


def test_predict_and_figures_of_a_part_segmentation_model():
    task = get_task("part_segmentation", category_parts=[[0, 1], [2, 3, 4]])
    model = task.build_model("point", "tiny", num_classes=5, depth=1, num_points=64, num_groups=8, group_size=8)
    points, category = torch.randn(64, 3), torch.tensor(1)
    truth = torch.randint(2, 5, (64,))
    inputs, got_truth, prediction = predict(model, ((points, category), truth))
    assert prediction.shape == (64,) and torch.equal(got_truth, truth)
    fig = point_parts_figure(points, truth, prediction)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 64 and "prediction" in fig.layout.annotations[1].text


def test_canvas_figure_shows_image_truth_and_prediction():
    truth = torch.zeros(8, 8, dtype=torch.long)
    truth[2:5, 2:5] = 3
    fig = canvas_figure(torch.rand(1, 8, 8), truth, truth)
    assert len(fig.data) == 3 and fig.data[1].z == fig.data[2].z
