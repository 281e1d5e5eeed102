"""IAM listings filter and page as the API reference documents (patches/iam.py)."""

from __future__ import annotations

from conftest import unique


def test_instance_profiles_are_listed_by_path_prefix_in_pages(aws):
    """ListInstanceProfiles "Lists the instance profiles that have the specified path prefix"
    and pages with MaxItems (100 when absent) and Marker, IsTruncated saying more remain.
    moto listed every profile of the account on one page, so a caller that forgot to filter or
    to follow the marker passed here and missed profiles on AWS.
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListInstanceProfiles.html
    """
    iam = aws("iam")
    mine, theirs = f"/{unique('mine')}/", f"/{unique('theirs')}/"
    names = [unique("p") for _ in range(3)]
    for name in names:
        iam.create_instance_profile(InstanceProfileName=name, Path=mine)
    other = unique("other")
    iam.create_instance_profile(InstanceProfileName=other, Path=theirs)

    first = iam.list_instance_profiles(PathPrefix=mine, MaxItems=2)
    assert first["IsTruncated"] is True and first["Marker"]
    second = iam.list_instance_profiles(PathPrefix=mine, MaxItems=2, Marker=first["Marker"])
    assert second["IsTruncated"] is False and "Marker" not in second
    listed = [p["InstanceProfileName"] for p in first["InstanceProfiles"] + second["InstanceProfiles"]]
    assert sorted(listed) == sorted(names)

    everything = [p["InstanceProfileName"] for page in iam.get_paginator("list_instance_profiles").paginate()
                  for p in page["InstanceProfiles"]]
    assert set(names) | {other} <= set(everything)


def test_instance_profiles_are_listed_a_hundred_to_a_page_by_default(aws):
    """Without MaxItems, "the number of items defaults to 100"."""
    iam = aws("iam")
    path = f"/{unique('many')}/"
    for _ in range(101):
        iam.create_instance_profile(InstanceProfileName=unique("p"), Path=path)
    page = iam.list_instance_profiles(PathPrefix=path)
    assert len(page["InstanceProfiles"]) == 100 and page["IsTruncated"] is True
    rest = iam.list_instance_profiles(PathPrefix=path, Marker=page["Marker"])
    assert len(rest["InstanceProfiles"]) == 1 and rest["IsTruncated"] is False
