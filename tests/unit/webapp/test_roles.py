import pytest

from webapp.roles import Permission, Role, User, parse_role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (
            Role.REVIEWER,
            {
                Permission.VIEW_QUEUE,
                Permission.ACT,
                Permission.READ_RECORDS,
                Permission.VIEW_STATUS,
            },
        ),
        (
            Role.AUDITOR,
            {
                Permission.VIEW_QUEUE,
                Permission.VIEW_AUDIT,
                Permission.READ_RECORDS,
                Permission.VIEW_STATUS,
            },
        ),
        (Role.ADMIN, set(Permission)),
        (
            Role.OPERATOR,
            {Permission.VIEW_OPS, Permission.RETRY_DEAD_LETTERS, Permission.VIEW_STATUS},
        ),
    ],
)
def test_each_role_has_exactly_its_permissions(role, allowed):
    user = User("someone", role)
    assert {p for p in Permission if user.can(p)} == allowed


def test_an_auditor_cannot_act_and_a_reviewer_cannot_manage_users():
    assert not User("carol", Role.AUDITOR).can(Permission.ACT)
    assert not User("ana", Role.REVIEWER).can(Permission.MANAGE_USERS)
    assert not User("ana", Role.REVIEWER).can(Permission.VIEW_AUDIT)


def test_parse_role_is_lenient_about_case_and_strict_about_names():
    assert parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="reviewer, auditor, admin, operator"):
        parse_role("root")


def test_an_operator_runs_the_pipeline_but_sees_no_patient_data():
    operator = User("olga", Role.OPERATOR)
    assert operator.can(Permission.VIEW_OPS) and operator.can(Permission.RETRY_DEAD_LETTERS)
    assert not operator.can(Permission.VIEW_QUEUE)
    assert not operator.can(Permission.VIEW_DEAD_LETTER_PAYLOAD)
    assert not User("ana", Role.REVIEWER).can(Permission.VIEW_OPS)
