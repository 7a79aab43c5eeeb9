import pytest

from webapp.roles import Permission, Role, User, parse_role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.REVIEWER, {Permission.VIEW_QUEUE, Permission.ACT, Permission.READ_RECORDS}),
        (Role.AUDITOR, {Permission.VIEW_QUEUE, Permission.VIEW_AUDIT, Permission.READ_RECORDS}),
        (Role.ADMIN, set(Permission)),
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
    with pytest.raises(ValueError, match="reviewer, auditor, admin"):
        parse_role("root")
