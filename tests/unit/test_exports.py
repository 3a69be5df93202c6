import quality


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(quality) if not name.startswith("_") and not isinstance(
        getattr(quality, name), type(quality))}
    assert public - {"annotations"} == set(quality.__all__) - {"__version__"}


def test_error_bases() -> None:
    assert issubclass(quality.InvalidInput, ValueError)
    assert issubclass(quality.InputNotFound, FileNotFoundError)
    assert issubclass(quality.CorruptInput, quality.InvalidInput)
    codes = {cls.exit_code for cls in (quality.InputNotFound, quality.InvalidInput, quality.AlignmentError,
                                       quality.FfmpegUnavailable, quality.MeasurementFailed, quality.QualityError)}
    assert len(codes) == 6
