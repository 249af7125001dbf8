import nlp_guard


def test_all_is_sorted_and_exported() -> None:
    assert nlp_guard.__all__ == sorted(nlp_guard.__all__)
    for name in nlp_guard.__all__:
        assert hasattr(nlp_guard, name), name


def test_errors_carry_codes() -> None:
    codes = {cls.code for cls in (nlp_guard.EmptyTextError, nlp_guard.TextTooLongError, nlp_guard.RecordError,
                                  nlp_guard.PolicyError, nlp_guard.ModelError, nlp_guard.ModelNotFoundError)}
    assert len(codes) == 6 and all(c.startswith("E") for c in codes)
