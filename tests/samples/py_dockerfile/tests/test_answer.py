from answer import ANSWER


def test_the_image_from_the_projects_dockerfile_is_used():
    assert ANSWER == 42
