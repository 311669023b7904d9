// How the `auth` prop and the app's `-c auth=…` context become the function's environment and, in
// the cognito modes, a user pool, resource server, managed-login domain and app client; plus the
// endpoint's public URL (MCP_PUBLIC_URL), the tool timeout and the settings refused at synth.
// Read from the synthesized templates, with bundling skipped (the CLI synth test bundles).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { UserPool } from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import { McpDataPlane } from '../../infra/data-plane.ts';
import { INSPECTOR_CALLBACK_URLS, buildKitApp } from '../../infra/kit-app.ts';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-auth-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const ISSUER = 'https://login.example.com/';
/** Authenticating endpoints behind CloudFront need their stack's region (for the Lambda@Edge function). */
const REGION = 'eu-west-1';
const CALLBACKS = ['http://localhost:6274/oauth/callback', 'https://app.example.com/oauth/callback', 'cursor://anysphere.cursor-mcp/oauth/callback'];

function newApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...context } });
}

/** One endpoint alone in a stack, with its private data plane. */
function synthEndpoint(props: Partial<McpServerEndpointProps> = {}, configure?: (stack: Stack) => Partial<McpServerEndpointProps>) {
  const stack = new Stack(newApp(), 'Endpoint', { env: { region: REGION } });
  const endpoint = new McpServerEndpoint(stack, 'Server', { serverName: 'echo', entry: 'functions/echo/handler.ts', ...props, ...configure?.(stack) });
  return { stack, endpoint, template: Template.fromStack(stack) };
}

/** The server function's variables: it is the function MCP_PATH configures. */
function functionEnvironment(template: Template): Record<string, any> {
  const functions = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MCP_PATH: Match.anyValue() }) } } }),
  ) as any[];
  assert.equal(functions.length, 1, 'expected exactly one server function');
  return functions[0].Properties.Environment.Variables;
}

/** The variables auth props own, as the function sees them. */
function authVariables(template: Template): Record<string, unknown> {
  return Object.fromEntries(Object.entries(functionEnvironment(template)).filter(([name]) => /^MCP_(AUTH|ALLOW_UNAUTH|OAUTH|APIKEY|PUBLIC_URL)/.test(name)));
}

function onlyResource(template: Template, type: string): Record<string, any> {
  const resources = Object.values(template.findResources(type));
  assert.equal(resources.length, 1, `expected exactly one ${type}`);
  return resources[0] as Record<string, any>;
}

/** `https://<distribution domain>/mcp`, as the template spells it. */
function distributionUrl(template: Template, path = '/mcp') {
  const [distribution] = Object.keys(template.findResources('AWS::CloudFront::Distribution'));
  return { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }, path]] };
}

/** `https://cognito-idp.<region>.<suffix>/<pool id>`, as the template spells it. */
function cognitoIssuer(poolId: unknown, tail = '') {
  return { 'Fn::Join': ['', [`https://cognito-idp.${REGION}.`, { Ref: 'AWS::URLSuffix' }, '/', poolId, ...(tail ? [tail] : [])]] };
}

describe('auth modes: the function environment', () => {
  it('none: opts in to an open endpoint, which the kit otherwise refuses on Lambda', () => {
    const { template } = synthEndpoint({ auth: { mode: 'none', allowUnauthenticated: true } });
    assert.deepEqual(authVariables(template), { MCP_AUTH_MODE: 'none', MCP_ALLOW_UNAUTHENTICATED: 'true', MCP_PUBLIC_URL: distributionUrl(template) });
  });

  it('apikey: API keys only, with the revocation bound when set', () => {
    const { template } = synthEndpoint({ auth: { mode: 'apikey', apiKeyCacheTtl: Duration.seconds(10) } });
    assert.deepEqual(authVariables(template), { MCP_AUTH_MODE: 'apikey', MCP_APIKEY_CACHE_SECONDS: '10', MCP_PUBLIC_URL: distributionUrl(template) });
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  it("oauth: issuer only, leaving JWKS, audience and scopes to the kit's defaults", () => {
    const { template } = synthEndpoint({ auth: { mode: 'oauth', issuer: ISSUER } });
    // The default audience is MCP_PUBLIC_URL: the CloudFront URL, known to the function without a cycle.
    assert.deepEqual(authVariables(template), { MCP_AUTH_MODE: 'oauth', MCP_OAUTH_ISSUER: ISSUER, MCP_PUBLIC_URL: distributionUrl(template) });
  });

  it('oauth,apikey: every OAuth setting, plus API keys', () => {
    const { template } = synthEndpoint({
      auth: {
        mode: 'oauth,apikey',
        issuer: 'https://example.okta.com/oauth2/default',
        jwksUrl: 'https://example.okta.com/oauth2/default/v1/keys',
        audience: ['api://mcp-echo', 'https://mcp.example.com/mcp'],
        scopes: ['mcp:tools', 'mcp:admin'],
        apiKeyCacheTtl: Duration.minutes(1),
      },
    });
    assert.deepEqual(authVariables(template), {
      MCP_AUTH_MODE: 'oauth,apikey',
      MCP_OAUTH_ISSUER: 'https://example.okta.com/oauth2/default',
      MCP_OAUTH_JWKS_URL: 'https://example.okta.com/oauth2/default/v1/keys',
      MCP_OAUTH_AUDIENCE: 'api://mcp-echo,https://mcp.example.com/mcp',
      MCP_OAUTH_SCOPES: 'mcp:tools,mcp:admin',
      MCP_APIKEY_CACHE_SECONDS: '60',
      MCP_PUBLIC_URL: distributionUrl(template),
    });
  });

  it("cognito: the kit sees an OAuth issuer, the pool, with its JWKS and the resource server's scopes", () => {
    const { template } = synthEndpoint({ auth: { mode: 'cognito', callbackUrls: CALLBACKS } });
    const poolId = { Ref: Object.keys(template.findResources('AWS::Cognito::UserPool'))[0] };
    assert.deepEqual(authVariables(template), {
      MCP_AUTH_MODE: 'oauth',
      MCP_OAUTH_ISSUER: cognitoIssuer(poolId),
      MCP_OAUTH_JWKS_URL: cognitoIssuer(poolId, '/.well-known/jwks.json'),
      MCP_OAUTH_SCOPES: 'echo/tools',
      // Cognito binds the token to the `resource` MCP clients send: `aud` is this URL.
      MCP_PUBLIC_URL: distributionUrl(template),
    });
  });

  it('cognito,apikey: OAuth plus API keys for machine callers; audience overridable', () => {
    const { template } = synthEndpoint({
      auth: { mode: 'cognito,apikey', callbackUrls: CALLBACKS, audience: ['https://mcp.example.com/mcp'], apiKeyCacheTtl: Duration.seconds(5) },
    });
    const env = authVariables(template);
    assert.equal(env.MCP_AUTH_MODE, 'oauth,apikey');
    assert.equal(env.MCP_OAUTH_AUDIENCE, 'https://mcp.example.com/mcp');
    assert.equal(env.MCP_APIKEY_CACHE_SECONDS, '5');
  });

  it('keeps auth variables out of `environment`, whatever the mode', () => {
    for (const name of ['MCP_OAUTH_AUDIENCE', 'MCP_PUBLIC_URL', 'MCP_ALLOW_UNAUTHENTICATED', 'MCP_APIKEY_CACHE_SECONDS', 'MCP_TOOL_TIMEOUT_MS']) {
      assert.throws(() => synthEndpoint({ auth: { mode: 'apikey' }, environment: { [name]: 'x' } }), new RegExp(`environment may not set ${name}`));
    }
  });
});

describe('the public URL (MCP_PUBLIC_URL)', () => {
  it('is the custom domain when there is one', () => {
    const { template, endpoint, stack } = synthEndpoint({ auth: { mode: 'oauth', issuer: ISSUER }, path: '/v1/mcp' }, (s) => ({
      domain: {
        domainNames: ['mcp.example.com', 'tools.example.com'],
        certificate: Certificate.fromCertificateArn(s, 'Cert', 'arn:aws:acm:us-east-1:111111111111:certificate/x'),
      },
    }));
    assert.equal(functionEnvironment(template).MCP_PUBLIC_URL, 'https://mcp.example.com/v1/mcp');
    assert.equal(stack.resolve(endpoint.mcpUrl), 'https://mcp.example.com/v1/mcp');
  });

  it('is the API stage URL without CloudFront, spelled from the API id and the stage name', () => {
    const { template } = synthEndpoint({ auth: { mode: 'apikey' }, cloudFront: false, stage: 'staging' });
    const url = JSON.stringify(functionEnvironment(template).MCP_PUBLIC_URL);
    assert.match(url, /"https:\/\/",\{"Ref":"ServerApi[0-9A-F]+"\},"\.execute-api\.eu-west-1\.".*"\/staging\/mcp"/);
    assert.doesNotMatch(url, /DeploymentStage/);
  });

  it('is the publicUrl prop when given, for the function and the McpUrl output', () => {
    const { template, endpoint, stack } = synthEndpoint({ auth: { mode: 'oauth', issuer: ISSUER }, publicUrl: 'https://gateway.example.com/echo/mcp' });
    assert.equal(functionEnvironment(template).MCP_PUBLIC_URL, 'https://gateway.example.com/echo/mcp');
    assert.equal(stack.resolve(endpoint.mcpUrl), 'https://gateway.example.com/echo/mcp');
  });

  it('is left unset on the local stage unless given: SAM and LocalStack URLs are their own', () => {
    assert.equal(functionEnvironment(synthEndpoint({ stage: 'local' }).template).MCP_PUBLIC_URL, undefined);
    const given = synthEndpoint({ stage: 'local', auth: { mode: 'oauth', issuer: ISSUER }, publicUrl: 'http://127.0.0.1:3001/mcp' });
    assert.equal(functionEnvironment(given.template).MCP_PUBLIC_URL, 'http://127.0.0.1:3001/mcp');
  });

  it('is required for the OAuth modes on the local stage, with a message saying how', () => {
    assert.throws(
      () => synthEndpoint({ stage: 'local', auth: { mode: 'oauth', issuer: ISSUER } }),
      /auth "oauth" needs the endpoint's public URL.*set the `publicUrl` prop/s,
    );
    assert.throws(() => synthEndpoint({ stage: 'local', auth: { mode: 'cognito,apikey', callbackUrls: CALLBACKS } }), /set the `publicUrl` prop/);
    assert.throws(
      () => synthEndpoint({ auth: { mode: 'apikey' }, publicUrl: 'mcp.example.com/mcp' }),
      /publicUrl "mcp.example.com\/mcp" must be an http\(s\) URL/,
    );
    assert.throws(() => synthEndpoint({ auth: { mode: 'apikey' }, publicUrl: 'https://mcp.example.com/mcp#x' }), /without query or fragment/);
  });
});

describe('the tool timeout (MCP_TOOL_TIMEOUT_MS)', () => {
  const toolTimeout = (props: Partial<McpServerEndpointProps>) =>
    functionEnvironment(synthEndpoint({ auth: { mode: 'apikey' }, cloudFront: false, ...props }).template).MCP_TOOL_TIMEOUT_MS;

  it('is 60 s, or the function timeout minus 10 s when that is shorter', () => {
    assert.equal(toolTimeout({}), '60000');
    assert.equal(toolTimeout({ timeout: Duration.seconds(30) }), '20000');
  });

  it('may be longer, up to the function timeout minus 10 s', () => {
    assert.equal(toolTimeout({ toolTimeout: Duration.minutes(5) }), '300000');
    assert.equal(toolTimeout({ timeout: Duration.minutes(2), toolTimeout: Duration.seconds(110) }), '110000');
  });

  it('refuses a tool timeout the function would cut short', () => {
    assert.throws(
      () => toolTimeout({ timeout: Duration.minutes(2), toolTimeout: Duration.seconds(111) }),
      /toolTimeout is 111 s; it must be .* at most timeout \(120 s\) minus 10 s/,
    );
    assert.throws(() => toolTimeout({ toolTimeout: Duration.millis(50) }), /toolTimeout is 50 ms; .*at least 100 ms/);
    assert.throws(() => toolTimeout({ timeout: Duration.seconds(10) }), /timeout 10 s leaves no room for tools/);
  });
});

describe('cognito mode: the authorization server', () => {
  const { template, stack, endpoint } = synthEndpoint({ auth: { mode: 'cognito', callbackUrls: CALLBACKS } });

  it('creates a user pool that only administrators add users to, signing in by email', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolName: 'mcp-echo-dev',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      AutoVerifiedAttributes: ['email'],
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
    });
  });

  it('requires strong passwords and an authenticator app (TOTP), with no SMS role', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
          TemporaryPasswordValidityDays: 3,
        },
      },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
    });
    assert.equal(onlyResource(template, 'AWS::Cognito::UserPool').Properties.SmsConfiguration, undefined);
    assert.doesNotMatch(JSON.stringify(template.findResources('AWS::IAM::Role')), /cognito-idp/);
  });

  it('is on the Essentials plan (managed login, resource binding) and deleted with a dev stack', () => {
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ UserPoolTier: 'ESSENTIALS', DeletionProtection: 'INACTIVE' }),
    });
    assert.equal(onlyResource(template, 'AWS::Cognito::UserPool').Properties.UserPoolAddOns, undefined);
  });

  it('defines a resource server named after the server, with a default scope', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'echo',
      Name: 'mcp-echo-dev',
      Scopes: [{ ScopeName: 'tools', ScopeDescription: 'Call the tools of this MCP server' }],
    });
    assert.deepEqual(endpoint.authorizationServer?.scopes, ['echo/tools']);
  });

  it("registers one public client: authorization code (PKCE) only, the resource server's scopes, the given callbacks", () => {
    const [resourceServer] = Object.keys(template.findResources('AWS::Cognito::UserPoolResourceServer'));
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'mcp-echo-dev',
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', { 'Fn::Join': ['', [{ Ref: resourceServer }, '/tools']] }],
      CallbackURLs: CALLBACKS,
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
    });
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
  });

  it('serves managed login on a prefix domain unique to the stack, styled for the client', () => {
    const domain = onlyResource(template, 'AWS::Cognito::UserPoolDomain').Properties;
    assert.equal(domain.ManagedLoginVersion, 2);
    assert.deepEqual(domain.Domain, {
      'Fn::Join': ['', ['echo-dev-', { 'Fn::Select': [0, { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] }] }]],
    });
    const [client] = Object.keys(template.findResources('AWS::Cognito::UserPoolClient'));
    template.hasResourceProperties('AWS::Cognito::ManagedLoginBranding', { ClientId: { Ref: client }, UseCognitoProvidedValues: true });
  });

  it('exposes the issuer and JWKS URL that the function is given', () => {
    const server = endpoint.authorizationServer!;
    const env = functionEnvironment(template);
    assert.deepEqual(stack.resolve(server.issuer), env.MCP_OAUTH_ISSUER);
    assert.deepEqual(stack.resolve(server.jwksUrl), env.MCP_OAUTH_JWKS_URL);
  });

  it('takes scopes, identifier and domain prefix from the settings', () => {
    const custom = synthEndpoint({
      auth: {
        mode: 'cognito',
        callbackUrls: CALLBACKS,
        resourceServerIdentifier: 'https://mcp.example.com',
        scopes: { read: 'Read notes', 'notes:admin': 'Reset notes' },
        domainPrefix: 'example-mcp-login',
      },
    }).template;
    custom.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'https://mcp.example.com',
      Scopes: [
        { ScopeName: 'read', ScopeDescription: 'Read notes' },
        { ScopeName: 'notes:admin', ScopeDescription: 'Reset notes' },
      ],
    });
    custom.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'example-mcp-login' });
    assert.equal(functionEnvironment(custom).MCP_OAUTH_SCOPES, 'https://mcp.example.com/read,https://mcp.example.com/notes:admin');
  });

  it('offers optional MFA, self sign-up and the Plus plan with threat protection', () => {
    const custom = synthEndpoint({ auth: { mode: 'cognito', callbackUrls: CALLBACKS, mfa: 'optional', selfSignUp: true, threatProtection: true } }).template;
    custom.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'OPTIONAL',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
    });
  });

  it('retains a production pool, with deletion protection', () => {
    const prod = synthEndpoint({ stage: 'prod', auth: { mode: 'cognito', callbackUrls: CALLBACKS } }).template;
    prod.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }),
    });
  });

  it('puts its resource server and client into a pool of yours, creating a domain only when asked', () => {
    const { template: mine, stack: myStack } = synthEndpoint({}, (s) => ({
      auth: { mode: 'cognito', callbackUrls: CALLBACKS, userPool: UserPool.fromUserPoolId(s, 'Pool', 'eu-west-1_AbCdEf123') },
    }));
    mine.resourceCountIs('AWS::Cognito::UserPool', 0);
    mine.resourceCountIs('AWS::Cognito::UserPoolDomain', 0);
    mine.resourceCountIs('AWS::Cognito::ManagedLoginBranding', 0);
    mine.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', { UserPoolId: 'eu-west-1_AbCdEf123' });
    mine.hasResourceProperties('AWS::Cognito::UserPoolClient', { UserPoolId: 'eu-west-1_AbCdEf123' });
    assert.deepEqual(
      functionEnvironment(mine).MCP_OAUTH_ISSUER,
      myStack.resolve(`https://cognito-idp.${myStack.region}.${myStack.urlSuffix}/eu-west-1_AbCdEf123`),
    );
    const withDomain = synthEndpoint({}, (s) => ({
      auth: { mode: 'cognito', callbackUrls: CALLBACKS, userPool: UserPool.fromUserPoolId(s, 'Pool', 'eu-west-1_AbCdEf123'), domainPrefix: 'my-mcp' },
    })).template;
    withDomain.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'my-mcp', UserPoolId: 'eu-west-1_AbCdEf123' });
  });
});

describe('auth settings refused at synth', () => {
  const refuse = (auth: McpServerEndpointProps['auth'], pattern: RegExp, props: Partial<McpServerEndpointProps> = {}) =>
    assert.throws(() => synthEndpoint({ auth, ...props }), pattern);

  it("names the problem with an OAuth issuer's settings", () => {
    refuse({ mode: 'oauth', issuer: 'http://login.example.com' }, /auth.issuer "http:\/\/login.example.com" must be an https URL/);
    refuse({ mode: 'oauth', issuer: ISSUER, jwksUrl: 'keys.json' }, /auth.jwksUrl "keys.json" must be an https URL/);
    refuse({ mode: 'oauth', issuer: ISSUER, audience: ['a,b'] }, /auth.audience entry "a,b" must be non-empty, without spaces or commas/);
    refuse({ mode: 'oauth', issuer: ISSUER, scopes: [] }, /auth.scopes is empty/);
    refuse({ mode: 'oauth', issuer: ISSUER, apiKeyCacheTtl: Duration.seconds(10) }, /apiKeyCacheTtl only applies to modes that accept API keys, not "oauth"/);
    refuse({ mode: 'apikey', apiKeyCacheTtl: Duration.seconds(61) }, /at most 60/);
    refuse({ mode: 'apikey', apiKeyCacheTtl: Duration.millis(1500) }, /must be whole seconds/);
    refuse({ mode: 'basic' } as never, /auth.mode "basic" must be one of none, apikey, oauth, oauth,apikey, cognito, cognito,apikey/);
  });

  it('names the problem with Cognito settings', () => {
    refuse({ mode: 'cognito', callbackUrls: [] }, /auth.callbackUrls is empty/);
    refuse(
      { mode: 'cognito', callbackUrls: ['http://127.0.0.1:6274/oauth/callback'] },
      /callbackUrls entry "http:\/\/127.0.0.1:6274\/oauth\/callback" must be an https URL, http:\/\/localhost…/,
    );
    refuse({ mode: 'cognito', callbackUrls: ['https://app.example.com/cb#x'] }, /without a fragment/);
    refuse({ mode: 'cognito', callbackUrls: CALLBACKS, domainPrefix: 'my-aws-login' }, /domainPrefix "my-aws-login" must be .* without "aws"/);
    refuse({ mode: 'cognito', callbackUrls: CALLBACKS, scopes: { 'tools/read': 'x' } }, /scopes name "tools\/read"/);
    refuse({ mode: 'cognito', callbackUrls: CALLBACKS, scopes: {} }, /auth.scopes is empty/);
    refuse(
      { mode: 'cognito', callbackUrls: CALLBACKS },
      /default domain prefix "echo-a-very-long-stage-name-that-leaves-no-room-for-more-x-<8 hex digits>" must be 1-63/,
      {
        stage: 'a-very-long-stage-name-that-leaves-no-room-for-more-x',
      },
    );
    assert.throws(
      () =>
        synthEndpoint({}, (s) => ({
          auth: { mode: 'cognito', callbackUrls: CALLBACKS, userPool: UserPool.fromUserPoolId(s, 'Pool', 'eu-west-1_x'), mfa: 'optional', selfSignUp: true },
        })),
      /auth.mfa, auth.selfSignUp configure a new user pool; set them on the pool passed as auth.userPool/,
    );
  });
});

describe("the example app's auth context", () => {
  function synthKitApp(context: Record<string, unknown>) {
    const app = newApp({ region: REGION, ...context });
    const stacks = buildKitApp(app);
    return stacks.servers.map((server) => Template.fromStack(server));
  }

  it('puts every server on API keys by default, and on auth "none" only with both flags', () => {
    for (const template of synthKitApp({})) assert.equal(functionEnvironment(template).MCP_AUTH_MODE, 'apikey');
    for (const template of synthKitApp({ auth: 'none', allowUnauthenticated: 'true' })) assert.equal(functionEnvironment(template).MCP_AUTH_MODE, 'none');
  });

  it('auth=apikey puts every server on API keys', () => {
    for (const template of synthKitApp({ auth: 'apikey', allowUnauthenticated: 'false' })) {
      assert.equal(functionEnvironment(template).MCP_AUTH_MODE, 'apikey');
      assert.equal(functionEnvironment(template).MCP_ALLOW_UNAUTHENTICATED, undefined);
      assert.equal(functionEnvironment(template).MCP_RATE_LIMIT_REQUESTS, '120');
    }
  });

  it('auth=oauth takes the issuer, audience and scopes from context, as lists', () => {
    const [notes] = synthKitApp({ auth: 'oauth', oauthIssuer: ISSUER, oauthAudience: 'api://mcp, https://mcp.example.com/mcp', oauthScopes: ['mcp:tools'] });
    assert.deepEqual(authVariables(notes!), {
      MCP_AUTH_MODE: 'oauth',
      MCP_OAUTH_ISSUER: ISSUER,
      MCP_OAUTH_AUDIENCE: 'api://mcp,https://mcp.example.com/mcp',
      MCP_OAUTH_SCOPES: 'mcp:tools',
      MCP_PUBLIC_URL: distributionUrl(notes!),
    });
    assert.throws(() => synthKitApp({ auth: 'oauth' }), /context "auth" is "oauth": set "oauthIssuer"/);
  });

  it('auth=cognito gives each server a pool whose client accepts the MCP Inspector, and outputs what clients need', () => {
    const [notes, echo] = synthKitApp({ auth: 'cognito' });
    for (const template of [notes!, echo!]) {
      template.resourceCountIs('AWS::Cognito::UserPool', 1);
      template.hasResourceProperties('AWS::Cognito::UserPoolClient', { CallbackURLs: INSPECTOR_CALLBACK_URLS });
      assert.deepEqual(
        Object.keys(template.toJSON().Outputs)
          .filter((o) => /Authorization|UserPool|Client|Login/.test(o))
          .sort(),
        ['AuthorizationServer', 'ClientId', 'LoginDomain', 'UserPoolId'],
      );
    }
    notes!.hasOutput('LoginDomain', {
      Value: { 'Fn::Join': ['', ['https://', { Ref: Match.stringLikeRegexp('^ServerAuthDomain') }, `.auth.${REGION}.amazoncognito.com`]] },
    });
    const [custom] = synthKitApp({ auth: 'cognito,apikey', cognitoCallbackUrls: 'https://app.example.com/cb,http://localhost:33418/callback' });
    custom!.hasResourceProperties('AWS::Cognito::UserPoolClient', { CallbackURLs: ['https://app.example.com/cb', 'http://localhost:33418/callback'] });
    assert.equal(functionEnvironment(custom!).MCP_AUTH_MODE, 'oauth,apikey');
  });

  it('keeps the OAuth modes off the local stage, whose public URLs it cannot know', () => {
    assert.throws(
      () => synthKitApp({ stage: 'local', auth: 'cognito' }),
      /context "auth" is "cognito", which needs each server's public URL; .* Use auth none or apikey there/,
    );
    assert.equal(functionEnvironment(synthKitApp({ stage: 'local', auth: 'apikey' })[0]!).MCP_AUTH_MODE, 'apikey');
  });

  it('rejects an unknown mode with the list of modes', () => {
    assert.throws(() => synthKitApp({ auth: 'jwt' }), /context "auth" must be one of none, apikey, oauth, oauth,apikey, cognito, cognito,apikey; got "jwt"/);
    assert.throws(
      () => synthKitApp({ auth: 'cognito', cognitoCallbackUrls: 42 }),
      /context "cognitoCallbackUrls" must be a comma-separated string or a list of strings/,
    );
  });
});

describe('API key administration', () => {
  it('lets an operator role put and delete APIKEY# items, and scan for list and revoke by id', () => {
    const stack = new Stack(newApp(), 'Keys');
    const dataPlane = new McpDataPlane(stack, 'DataPlane', {});
    const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    dataPlane.grantApiKeyAdministration(operator);
    const template = Template.fromStack(stack);
    const table = { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::DynamoDB::Table'))[0], 'Arn'] };
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Operator') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
            Resource: table,
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['APIKEY#*'] } },
          },
          { Effect: 'Allow', Action: 'dynamodb:Scan', Resource: table },
        ],
      },
    });
  });
});
