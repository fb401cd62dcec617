"""A multirun's summary table: mean and sample standard deviation."""



def test_summary_table_mean_and_std():
    from forams_lightning.sweep_summary import summary_table

    table = summary_table({"a": {"open/x": 0.5, "test/y": 1.0, "seed": 1}, "b": {"open/x": 0.7, "test/y": 0.0}})
    lines = table.splitlines()
    assert lines[0] == "| job | open/x | test/y |"
    assert lines[-1] == "| **mean ± std** (n=2) | 0.600 ± 0.141 | 0.500 ± 0.707 |"
