"""EC2 tag filters, which every sweep of a lab relies on (patches/ec2.py
reads a resource's tags by its id instead of scanning every tag of the region)."""

from __future__ import annotations

import uuid


def test_tag_filters_select_each_resource_by_its_own_tags(aws):
    """DescribeSnapshots and DescribeVolumes filter ``tag:<key>`` (key and
    value), ``tag-key`` and ``tag-value`` on each resource's own tags, and the
    Tags each resource carries are what DescribeTags reports for its id.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVolumes.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html
    """
    ec2 = aws("ec2")
    mark = f"t{uuid.uuid4().hex[:8]}"
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volumes = [ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"] for _ in range(3)]
    snapshots = [ec2.create_snapshot(VolumeId=v)["SnapshotId"] for v in volumes]
    ec2.create_tags(Resources=[volumes[0], snapshots[0]], Tags=[{"Key": "irlab:lab", "Value": mark}])
    ec2.create_tags(Resources=[volumes[1], snapshots[1]], Tags=[{"Key": "irlab:lab", "Value": f"{mark}-other"}])
    ec2.create_tags(Resources=[snapshots[2]], Tags=[{"Key": f"{mark}-key", "Value": "v"}])

    by_lab = [{"Name": "tag:irlab:lab", "Values": [mark]}]
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=by_lab)["Snapshots"]] == [snapshots[0]]
    assert [v["VolumeId"] for v in ec2.describe_volumes(Filters=by_lab)["Volumes"]] == [volumes[0]]
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(Filters=[{"Name": "tag-key", "Values": [f"{mark}-key"]}])["Snapshots"]] == [snapshots[2]]
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(Filters=[{"Name": "tag-value", "Values": [f"{mark}-other"]}])["Snapshots"]] == [snapshots[1]]
    for snapshot in ec2.describe_snapshots(SnapshotIds=snapshots)["Snapshots"]:
        listed = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [snapshot["SnapshotId"]]}])["Tags"]
        assert sorted((t["Key"], t["Value"]) for t in snapshot.get("Tags", [])) == sorted((t["Key"], t["Value"]) for t in listed)
        assert all(t["ResourceType"] == "snapshot" for t in listed), listed
    assert "Tags" not in ec2.describe_volumes(VolumeIds=[volumes[2]])["Volumes"][0] or not ec2.describe_volumes(VolumeIds=[volumes[2]])["Volumes"][0]["Tags"]
