"""KMS-encrypted SNS topics whose policy names the services allowed to publish, from this account only."""
from __future__ import annotations

from awacs import kms as kms_actions
from awacs import sns as sns_actions
from awacs.aws import Allow, ArnLike, Bool, Condition, Deny, Principal, Statement, StringEquals
from troposphere import Equals, Not, Ref, sns

from .iam import ANYONE, allow, document

EVENTBRIDGE = "events.amazonaws.com"
CLOUDWATCH_ALARMS = "cloudwatch.amazonaws.com"
CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"
DEFAULT_PUBLISHERS = (EVENTBRIDGE, CLOUDWATCH_ALARMS, CODESTAR_NOTIFICATIONS)


class TopicReference:
    def __init__(self, arn, key=None):
        self.arn = arn
        self.key = key

    def grant_publish(self):
        statements = [allow([sns_actions.Publish], [self.arn])]
        if self.key is not None:
            # Publishing to an encrypted topic makes SNS generate a data key for the caller.
            statements.append(allow(
                [kms_actions.Decrypt, kms_actions.GenerateDataKey],
                [self.key.arn],
            ))
        return statements


class EncryptedTopic(TopicReference):
    def __init__(self, stack, logical_id, name, display_name, key, publishers=DEFAULT_PUBLISHERS, email=None,
                 eventbridge_rules=None):
        """``email``: a String parameter; an empty value means no subscription. ``eventbridge_rules``: the
        ARNs (or ARN patterns) of the only EventBridge rules that may publish (``aws:SourceArn``); none → EventBridge may not."""
        self.stack = stack
        self.topic = stack.add(sns.Topic(
            logical_id, TopicName=name, DisplayName=display_name, KmsMasterKeyId=key.arn,
        ))
        super().__init__(Ref(self.topic), key)
        if hasattr(key, "allow_sns_publishers"):
            key.allow_sns_publishers(publishers)
        # An imported key's policy belongs to its own stack: the foundation key already lets
        # these publishers use it through SNS (kms:ViaService), for every topic of the environment.
        statements = [
            Statement(
                Sid="DenyInsecureTransport", Effect=Deny, Principal=ANYONE, Action=[sns_actions.Publish],
                Resource=[self.arn], Condition=Condition(Bool({"aws:SecureTransport": "false"})),
            )
        ]
        if eventbridge_rules is not None:
            publishers = [p for p in publishers if p != EVENTBRIDGE or eventbridge_rules]
        for service in publishers:
            conditions = [StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})]
            if service == EVENTBRIDGE and eventbridge_rules is not None:
                # EventBridge sends the rule's ARN as aws:SourceArn:
                # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
                conditions.append(ArnLike({"aws:SourceArn": list(eventbridge_rules)}))
            statements.append(Statement(
                Sid="Allow" + "".join(p.capitalize() for p in service.split(".")[0].split("-")) + "FromThisAccount",
                Effect=Allow, Principal=Principal("Service", service), Action=[sns_actions.Publish],
                Resource=[self.arn], Condition=Condition(conditions),
            ))
        stack.add(sns.TopicPolicy(logical_id + "Policy", Topics=[Ref(self.topic)], PolicyDocument=document(statements)))
        if email is not None:
            condition = stack.condition(f"{logical_id}HasEmail", Not(Equals(Ref(email), "")))
            stack.add(sns.SubscriptionResource(
                logical_id + "EmailSubscription", Condition=condition,
                Protocol="email", Endpoint=Ref(email), TopicArn=Ref(self.topic),
            ))
