"""Tear down what a run created: the stacks in reverse deploy order, then what they leave.

1. Every stack of the state file that still exists is read with ListStackResources and the
   physical ids of buckets, log groups, ECR repositories and KMS keys are recorded in the
   state file (so an interrupted teardown can resume: ``--teardown-only``).
2. Stacks with termination protection are listed; protection is turned off only after a
   typed confirmation (``disable``).
3. Stacks are deleted in reverse deploy order; a stack that ends ``DELETE_FAILED`` (e.g. a
   non-empty bucket without a Retain policy) is deleted again with the failed resources
   retained, and those are recorded and cleaned up in step 4.
4. The recorded resources that still exist are listed; after a typed confirmation
   (``delete``) buckets are emptied (every object version and delete marker) and deleted,
   log groups deleted, ECR repositories deleted with their images, KMS keys scheduled for
   deletion with the shortest window (7 days) and SSM parameters the run created deleted.
"""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

BUCKET, LOG_GROUP, REPOSITORY, KEY, PARAMETER = ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::ECR::Repository",
                                                 "AWS::KMS::Key", "AWS::SSM::Parameter")
LEFT_BEHIND = (BUCKET, LOG_GROUP, REPOSITORY, KEY)
LABELS = {BUCKET: "bucket (all object versions)", LOG_GROUP: "log group", REPOSITORY: "ECR repository (with images)",
          KEY: "KMS key (scheduled deletion, 7 days)", PARAMETER: "SSM parameter"}
KMS_MIN_PENDING_DAYS = 7


class TeardownError(Exception):
    pass


def _code(err) -> str:
    return err.response.get("Error", {}).get("Code", "") if isinstance(err, ClientError) else ""


def _missing(err) -> bool:
    message = str(err)
    return _code(err) in ("ValidationError",) and "does not exist" in message


class Teardown:
    def __init__(self, clients, state, ask, out=print, poll_seconds=5.0, timeout_seconds=3600.0,
                 clock=time.monotonic, sleep=time.sleep):
        """``ask(prompt) -> str`` reads one typed answer ("" when there is none)."""
        self.clients = clients
        self.state = state
        self.ask = ask
        self.out = out
        self.poll = poll_seconds
        self.timeout = timeout_seconds
        self.clock = clock
        self.sleep = sleep
        self.left = []   # human-readable things left behind

    @property
    def cfn(self):
        return self.clients.get("cloudformation")

    # -- stacks ------------------------------------------------------------------
    def describe(self, name):
        try:
            return self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as err:
            if _missing(err):
                return None
            raise

    def record_resources(self, name) -> None:
        paginator = self.cfn.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=name):
            for summary in page.get("StackResourceSummaries", []):
                rtype, physical = summary.get("ResourceType"), summary.get("PhysicalResourceId")
                if rtype in LEFT_BEHIND and physical and summary.get("ResourceStatus") != "DELETE_COMPLETE":
                    self.state.add_resource(rtype, physical, name)

    def run(self) -> bool:
        """``True`` when nothing is left."""
        stacks = [s["name"] for s in reversed(self.state.pending_stacks())]
        existing = []
        for name in stacks:
            stack = self.describe(name)
            if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
                self.state.mark_stack(name, "deleted")
                continue
            self.record_resources(name)
            existing.append(stack)
        protected = [s["StackName"] for s in existing if s.get("EnableTerminationProtection")]
        if protected:
            self.out("termination protection is on for:\n" + "\n".join(f"  {n}" for n in protected))
            if self.ask("type 'disable' to turn it off and delete these stacks: ").strip() != "disable":
                self.left += [f"stack {s['StackName']}" for s in existing]
                self.left += [f"{r['type']} {r['id']}" for r in self.state.pending_resources()]
                raise TeardownError("not confirmed: termination protection left on; nothing deleted")
            for name in protected:
                self.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
                self.out(f"termination protection off: {name}")
        ok = True
        for stack in existing:
            if not self.delete_stack(stack["StackName"], stack["StackId"]):
                ok = False
        return self.remove_left_behind() and ok

    def delete_stack(self, name, stack_id) -> bool:
        self.out(f"deleting stack {name}")
        self.cfn.delete_stack(StackName=name)
        status = self._wait_deleted(stack_id)
        if status == "DELETE_FAILED":
            failed = self._failed_resources(stack_id)
            self.out(f"{name}: DELETE_FAILED on {', '.join(f['LogicalResourceId'] for f in failed) or '?'}; "
                     f"deleting again with those retained (cleaned up below)")
            for f in failed:
                if f.get("PhysicalResourceId") and f["ResourceType"] in LEFT_BEHIND:
                    self.state.add_resource(f["ResourceType"], f["PhysicalResourceId"], name)
            self.cfn.delete_stack(StackName=name, RetainResources=[f["LogicalResourceId"] for f in failed])
            status = self._wait_deleted(stack_id)
        if status != "DELETE_COMPLETE":
            self.out(f"{name}: {status}; see its events in the CloudFormation console")
            self.left.append(f"stack {name} ({status})")
            return False
        self.state.mark_stack(name, "deleted")
        self.out(f"deleted stack {name}")
        return True

    def _wait_deleted(self, stack_id) -> str:
        deadline = self.clock() + self.timeout
        while True:
            stack = self.describe(stack_id)
            status = "DELETE_COMPLETE" if stack is None else stack["StackStatus"]
            if status in ("DELETE_COMPLETE", "DELETE_FAILED"):
                return status
            if self.clock() >= deadline:
                return f"{status} (timed out waiting)"
            self.sleep(self.poll)

    def _failed_resources(self, stack_id) -> list:
        failed = []
        for page in self.cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
            failed += [r for r in page.get("StackResourceSummaries", []) if r.get("ResourceStatus") == "DELETE_FAILED"]
        return failed

    # -- what the stacks leave -----------------------------------------------------
    def remove_left_behind(self) -> bool:
        left = [r for r in self.state.pending_resources() if self.exists(r["type"], r["id"])]
        for r in self.state.pending_resources():
            if r not in left:
                self.state.mark_resource(r["type"], r["id"], "gone")
        if not left:
            return not self.left
        self.out("the stacks left these resources (retained by their DeletionPolicy or failed to delete):")
        for r in left:
            self.out(f"  {LABELS.get(r['type'], r['type'])}: {r['id']}  (from {r['stack'] or '?'})")
        if self.ask(f"type 'delete' to delete these {len(left)} resources for good: ").strip() != "delete":
            self.left += [f"{r['type']} {r['id']}" for r in left]
            self.out("not confirmed: left in place; `cfn-delivery integ --teardown-only` removes them later")
            return False
        ok = True
        for r in self.log_targets_last(left):
            try:
                self.delete_resource(r["type"], r["id"])
                self.state.mark_resource(r["type"], r["id"], "deleted")
                self.out(f"deleted {LABELS.get(r['type'], r['type'])} {r['id']}")
            except ClientError as err:
                ok = False
                self.left.append(f"{r['type']} {r['id']} ({_code(err)})")
                self.out(f"could not delete {r['type']} {r['id']}: {err}")
        return ok and not self.left

    def exists(self, rtype, physical_id) -> bool:
        c = self.clients.get
        try:
            if rtype == BUCKET:
                c("s3").head_bucket(Bucket=physical_id)
            elif rtype == LOG_GROUP:
                groups = c("logs").describe_log_groups(logGroupNamePrefix=physical_id).get("logGroups", [])
                return any(g["logGroupName"] == physical_id for g in groups)
            elif rtype == REPOSITORY:
                c("ecr").describe_repositories(repositoryNames=[physical_id])
            elif rtype == KEY:
                key = c("kms").describe_key(KeyId=physical_id)["KeyMetadata"]
                return key.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion")
            elif rtype == PARAMETER:
                c("ssm").get_parameter(Name=physical_id)
            return True
        except ClientError as err:
            if _code(err) in ("404", "NoSuchBucket", "NotFound", "ResourceNotFoundException",
                              "RepositoryNotFoundException", "NotFoundException", "ParameterNotFound"):
                return False
            raise

    def log_targets_last(self, resources) -> list:
        """Buckets that receive other buckets' access logs go last (their logs would refill them)."""
        buckets = [r["id"] for r in resources if r["type"] == BUCKET]
        targets = set()
        for bucket in buckets:
            try:
                logging = self.clients.get("s3").get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}
            except ClientError:
                continue
            if logging.get("TargetBucket") in buckets:
                targets.add(logging["TargetBucket"])
        return sorted(resources, key=lambda r: r["type"] == BUCKET and r["id"] in targets)

    def delete_bucket(self, bucket, attempts=3) -> None:
        """Empty and delete; S3 delivers access logs late, so a bucket that refills is emptied again."""
        s3 = self.clients.get("s3")
        for attempt in range(attempts):
            empty_bucket(s3, bucket)
            try:
                s3.delete_bucket(Bucket=bucket)
                return
            except ClientError as err:
                if _code(err) != "BucketNotEmpty" or attempt == attempts - 1:
                    raise
                self.sleep(self.poll)

    def delete_resource(self, rtype, physical_id) -> None:
        c = self.clients.get
        if rtype == BUCKET:
            self.delete_bucket(physical_id)
        elif rtype == LOG_GROUP:
            c("logs").delete_log_group(logGroupName=physical_id)
        elif rtype == REPOSITORY:
            c("ecr").delete_repository(repositoryName=physical_id, force=True)
        elif rtype == KEY:
            c("kms").schedule_key_deletion(KeyId=physical_id, PendingWindowInDays=KMS_MIN_PENDING_DAYS)
        elif rtype == PARAMETER:
            c("ssm").delete_parameter(Name=physical_id)
        else:
            raise TeardownError(f"no way to delete a {rtype}")


def empty_bucket(s3, bucket) -> int:
    """Delete every object version and delete marker (a versioned bucket keeps them all)."""
    count = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise TeardownError(f"bucket {bucket}: could not delete {first.get('Key')}: {first.get('Message')}")
            count += len(batch)
    return count
