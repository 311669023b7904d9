// The data plane one or more MCP servers share: the DynamoDB table (sessions, state, tasks, API
// keys), the S3 artifact bucket and the Secrets Manager secret with Redis credentials and the
// request-state key. It owns retention, recovery (point-in-time recovery on the table, versions
// in the bucket, serving from a restored table) and the least-privilege grant a server needs; no compute.
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Key prefix under which servers write artifacts; the lifecycle rule and the grant use it. */
export const ARTIFACTS_PREFIX = 'artifacts/';

/** Keys of the JSON secret a server reads once per cold start (`MCP_SECRETS_ARN`). */
export const SECRET_KEYS = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'MCP_REQUEST_STATE_KEY'] as const;

/**
 * Keys of the origin secret: the value CloudFront sends in its origin header, and values still
 * accepted while it is rotated (comma list). CloudFront reads the first at deploy, servers both.
 */
export const ORIGIN_SECRET_KEYS = ['MCP_ORIGIN_SECRET', 'MCP_ORIGIN_SECRET_PREVIOUS'] as const;

/**
 * DynamoDB actions the kit's stores use: item CRUD with conditional writes, queries by partition.
 * No Scan, no table administration.
 */
const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];

/** Partition-key prefix of API key items (`APIKEY#<sha256>`), see shared/auth/api-keys.ts. */
const API_KEY_PARTITION_PREFIX = 'APIKEY#';

/** Stages whose data is kept when a stack is deleted, unless `retainData` says otherwise. */
export function isProductionStage(stage: string): boolean {
  return stage === 'prod' || stage === 'production';
}

export interface McpDataPlaneProps {
  /**
   * Deployment stage; names nothing, but decides the retention default.
   * @default 'dev'
   */
  readonly stage?: string;
  /**
   * Keep the table, bucket and secret when the stack is deleted (RETAIN) and turn on table
   * deletion protection. Off, teardown removes everything, objects included.
   * @default - true for the stages `prod` and `production`, false otherwise
   */
  readonly retainData?: boolean;
  /**
   * How long an object under `artifacts/` lives before S3 expires it.
   * @default Duration.days(30)
   */
  readonly artifactExpiration?: Duration;
  /**
   * Where Redis credentials and the request-state key come from: an existing secret whose JSON
   * holds `UPSTASH_REDIS_REST_URL`, `UPSTASH_REDIS_REST_TOKEN` and `MCP_REQUEST_STATE_KEY`.
   * @default - a new secret with a generated 64-character request-state key and empty Upstash
   * fields (fill them in after deploy; empty means "no Redis")
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * The value CloudFront sends in its origin header and servers accept (shared/http/origin-verify.ts):
   * an existing secret whose JSON holds `MCP_ORIGIN_SECRET` (and, while rotating,
   * `MCP_ORIGIN_SECRET_PREVIOUS`). A secret of its own, since a generated secret generates one field.
   * @default - a new secret with a generated 48-character `MCP_ORIGIN_SECRET`
   */
  readonly originSecret?: secretsmanager.ISecret;
  /**
   * How long S3 keeps an object's previous version after it is overwritten or deleted (the bucket
   * is versioned, so an artifact deleted by mistake can be restored within this time).
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Serve from this table instead of the one created here: a table restored from point-in-time
   * recovery or a backup (`npm run restore`, docs/deploy.md "Backups and restore"). The created
   * table stays as it is, so removing the setting switches back.
   * @default - the table created here
   */
  readonly restoredTableName?: string;
  /**
   * Topic notified when the table throttles.
   * @default - no notification; the alarm shows in the CloudWatch console
   */
  readonly alarmTopic?: sns.ITopic;
}

export class McpDataPlane extends Construct {
  /** The table servers use: `restoredTableName`'s, else `createdTable`. */
  readonly table: dynamodb.ITable;
  /** The table this construct created (and keeps, even while servers use a restored one). */
  readonly createdTable: dynamodb.Table;
  readonly bucket: s3.Bucket;
  readonly secret: secretsmanager.ISecret;
  /** The origin header's value (`ORIGIN_SECRET_KEYS`), read by CloudFront at deploy and by servers at cold start. */
  readonly originSecret: secretsmanager.ISecret;
  /** Table and artifact access for servers; one policy that every server's role attaches. */
  readonly serverAccessPolicy: iam.ManagedPolicy;
  /** Read plus write throttle events on the table, summed. */
  readonly tableThrottles: cloudwatch.IMetric;
  readonly tableThrottleAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: McpDataPlaneProps = {}) {
    super(scope, id);
    const retain = props.retainData ?? isProductionStage(props.stage ?? 'dev');
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.createdTable = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: retain,
      removalPolicy,
    });
    this.table = props.restoredTableName ? dynamodb.Table.fromTableName(this, 'RestoredTable', props.restoredTableName) : this.createdTable;

    this.bucket = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-artifacts',
          prefix: ARTIFACTS_PREFIX,
          expiration: props.artifactExpiration ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // Versions replaced or deleted (expiry included) are kept for a while, then go; a
          // delete marker left with no versions behind it is removed.
          id: 'expire-previous-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
      // Without it a non-retained bucket that holds objects blocks `cdk destroy`.
      autoDeleteObjects: !retain,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "Only the servers' own roles read and write this bucket; object-level auditing is CloudTrail " +
        'data events, set per account. A server-access-log bucket would itself need a log bucket.',
    });

    this.secret = props.secret ?? this.createSecret(removalPolicy);
    this.originSecret = props.originSecret ?? this.createOriginSecret(removalPolicy);
    this.serverAccessPolicy = this.createServerAccessPolicy();

    this.tableThrottles = new cloudwatch.MathExpression({
      label: 'DynamoDB throttled events',
      expression: 'reads + writes',
      usingMetrics: {
        reads: this.table.metric('ReadThrottleEvents', { statistic: 'Sum' }),
        writes: this.table.metric('WriteThrottleEvents', { statistic: 'Sum' }),
      },
      period: Duration.minutes(5),
    });
    this.tableThrottleAlarm = new cloudwatch.Alarm(this, 'TableThrottleAlarm', {
      alarmDescription: 'The MCP data-plane table throttled reads or writes: sessions and state calls are failing or retrying.',
      metric: this.tableThrottles,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      this.tableThrottleAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
      this.tableThrottleAlarm.addOkAction(new cloudwatchActions.SnsAction(props.alarmTopic));
    }

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'DynamoDB table (MCP_TABLE_NAME)' });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'S3 artifact bucket (MCP_BUCKET_NAME)' });
    new CfnOutput(this, 'SecretArn', {
      value: this.secret.secretArn,
      description: `Secrets Manager secret (MCP_SECRETS_ARN) holding ${SECRET_KEYS.join(', ')}`,
    });
    new CfnOutput(this, 'OriginSecretArn', {
      value: this.originSecret.secretArn,
      description: `Secrets Manager secret holding ${ORIGIN_SECRET_KEYS.join(', ')}: CloudFront's origin header (rotation: docs/deploy.md)`,
    });
  }

  /**
   * Give a server's role what it needs and no more: the shared access policy (table items,
   * objects under `artifacts/`) and reading the secret.
   */
  grantServer(role: iam.IRole): void {
    role.addManagedPolicy(this.serverAccessPolicy);
    this.secret.grantRead(role);
    this.originSecret.grantRead(role);
  }

  /**
   * What `npm run keys` needs to manage API keys here, for an operator's role: putting and
   * deleting `APIKEY#` items only, and Scan (list, revoke by id), which reads the whole table.
   */
  grantApiKeyAdministration(grantee: iam.IGrantable): iam.Grant {
    const resourceArns = [this.table.tableArn];
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
      resourceArns,
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${API_KEY_PARTITION_PREFIX}*`] } },
    }).combine(iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Scan'], resourceArns }));
  }

  // Defined here, beside the resources, so the object-prefix wildcard is acknowledged once, in
  // terms of this stack's own bucket rather than of every server stack's import of it.
  private createServerAccessPolicy(): iam.ManagedPolicy {
    const policy = new iam.ManagedPolicy(this, 'ServerAccess', {
      description: 'MCP servers: items of the kit table, objects under artifacts/ in the artifact bucket',
      statements: [
        new iam.PolicyStatement({ actions: TABLE_ACTIONS, resources: [this.table.tableArn] }),
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          resources: [this.bucket.arnForObjects(`${ARTIFACTS_PREFIX}*`)],
        }),
        // Listing lets GetObject on a missing key answer 404 rather than 403. Unconditioned: a
        // GetObject carries no s3:prefix, so a grant limited by one would never apply to it.
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
      ],
    });
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${ARTIFACTS_PREFIX}*]`,
      reason: 'Artifact keys are minted at run time; the artifacts/ prefix is the narrowest scope that names them.',
    });
    return policy;
  }

  private createOriginSecret(removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'OriginSecret', {
      description: `MCP servers: ${ORIGIN_SECRET_KEYS.join(', ')}, the header CloudFront adds so servers refuse requests that went around it.`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ MCP_ORIGIN_SECRET_PREVIOUS: '' }),
        generateStringKey: 'MCP_ORIGIN_SECRET',
        passwordLength: 48,
        excludePunctuation: true,
      },
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'CloudFront reads the value at deploy, so a rotation needs a deploy between its steps; it is rotated by hand in the order docs/deploy.md gives, not by a rotation Lambda.',
    });
    return secret;
  }

  private createSecret(removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'Secret', {
      description: `MCP server secrets: ${SECRET_KEYS.join(', ')}. Fill in the Upstash values after deploy.`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' }),
        generateStringKey: 'MCP_REQUEST_STATE_KEY',
        passwordLength: 64,
        excludePunctuation: true,
      },
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The Upstash token is issued by Upstash and rotates there, and rotating the request-state key ' +
        'invalidates in-flight MCP requestState; both are rotated by hand (docs/deploy.md), not by a rotation Lambda.',
    });
    return secret;
  }
}
