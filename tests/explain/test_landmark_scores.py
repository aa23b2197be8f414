from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.errors import InputError, SchemaError
from facehealth.explain.landmark_scores import read_landmark_scores


def test_a_partial_table_gives_zero_weight_to_the_landmarks_it_leaves_out(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"landmark": [48, 54, 30], "score": [1.0, 0.5, np.nan]}).to_csv(path, index=False)
    values = read_landmark_scores(path)
    expected = np.zeros(68)
    expected[[48, 54]] = [1.0, 0.5]
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"landmark": [1, 1], "score": [1, 2]}, "more than once"),
        ({"landmark": [1.5], "score": [1]}, "integers 0..67"),
        ({"landmark": [1], "score": ["high"]}, "must be numbers"),
        ({"landmark": [1, 2], "score": [0, 0]}, "nothing to paint"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(tmp_path, table, message):
    path = tmp_path / "s.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    with pytest.raises(SchemaError, match=message):
        read_landmark_scores(path)


def test_a_file_that_is_not_a_csv_is_an_input_error(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="not a readable CSV"):
        read_landmark_scores(tmp_path / "empty.csv")
