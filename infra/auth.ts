// How an McpServerEndpoint authenticates callers: the `auth` prop's modes, their validation at
// synth, and the function environment each one becomes (the kit reads it in shared/config.ts).
// The `cognito` modes also build the authorization server: a user pool (or yours), a resource
// server with scopes, a managed-login domain and a public app client for MCP clients.
import { Aws, Duration, Fn, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** Settings of the modes that accept API keys (`apikey`, `oauth,apikey`, `cognito,apikey`). */
export interface McpApiKeyOptions {
  /**
   * How long an instance trusts an API key lookup (`MCP_APIKEY_CACHE_SECONDS`): a revoked key
   * keeps working on other instances for at most this long. Whole seconds, at most 60.
   * Only for modes that accept API keys.
   * @default Duration.seconds(30)
   */
  readonly apiKeyCacheTtl?: Duration;
}

/** No authentication: anyone who finds the URL can call the tools. */
export interface McpAuthNone {
  readonly mode: 'none';
  /**
   * Acknowledge that a stage other than `local` serves anyone who finds the URL. Required for
   * that combination; synth fails without it. Also sets `MCP_ALLOW_UNAUTHENTICATED=true`, without
   * which the kit refuses to start on Lambda with auth `none`.
   * @default false
   */
  readonly allowUnauthenticated?: boolean;
}

/** API keys only (`npm run keys`), for machine callers. */
export interface McpAuthApiKey extends McpApiKeyOptions {
  readonly mode: 'apikey';
}

/** OAuth 2.1 bearer tokens from an authorization server you run elsewhere (Auth0, Okta, Entra ID, …). */
export interface McpAuthOAuth extends McpApiKeyOptions {
  /** `oauth,apikey` also accepts API keys. */
  readonly mode: 'oauth' | 'oauth,apikey';
  /** The authorization server's issuer, exactly as tokens carry it in `iss` (`MCP_OAUTH_ISSUER`). */
  readonly issuer: string;
  /**
   * The issuer's JWKS (`MCP_OAUTH_JWKS_URL`).
   * @default - `<issuer>/.well-known/jwks.json`, the kit's default (Cognito's layout)
   */
  readonly jwksUrl?: string;
  /**
   * Accepted `aud` values (`MCP_OAUTH_AUDIENCE`).
   * @default - the endpoint's public URL (RFC 8707), see `McpServerEndpointProps.publicUrl`
   */
  readonly audience?: string[];
  /**
   * Scopes advertised in the protected resource metadata (`MCP_OAUTH_SCOPES`).
   * @default - none advertised
   */
  readonly scopes?: string[];
}

/**
 * OAuth 2.1 with an Amazon Cognito user pool as the authorization server, created here: a user
 * pool (or `userPool`), a resource server with `scopes`, a managed-login domain, and a public app
 * client (authorization code + PKCE) that MCP clients use as a pre-registered client ID.
 */
export interface McpAuthCognito extends McpApiKeyOptions {
  /** `cognito,apikey` also accepts API keys (machine callers: Cognito cannot bind M2M tokens to this resource). */
  readonly mode: 'cognito' | 'cognito,apikey';
  /**
   * Redirect URIs of the MCP clients that sign in with the app client, matched exactly (port
   * included): `https://…`, `http://localhost…`, or a custom scheme (`myapp://…`).
   */
  readonly callbackUrls: string[];
  /**
   * A user pool of yours to put the resource server and app client in. The pool settings below
   * (`mfa`, `selfSignUp`, `threatProtection`) are then yours to set on it, and no domain is
   * created unless `domainPrefix` is given; if the pool's own domain uses managed login, give the
   * client a managed-login style. Resource binding needs the Essentials or Plus plan.
   * @default - a new user pool
   */
  readonly userPool?: cognito.IUserPool;
  /**
   * Prefix of the managed-login domain, `https://<prefix>.auth.<region>.amazoncognito.com`.
   * Unique per region across all AWS accounts; may not contain `aws`, `amazon` or `cognito`.
   * @default - `<serverName>-<stage>-<8 hex digits of the stack id>` for a new pool; none for `userPool`
   */
  readonly domainPrefix?: string;
  /**
   * Identifier of the resource server; scopes reach tokens as `<identifier>/<scope>`.
   * @default - the server name
   */
  readonly resourceServerIdentifier?: string;
  /**
   * Scopes of the resource server, name to description. The app client may request all of them,
   * and the endpoint advertises them (as `<identifier>/<name>`) in its metadata.
   * @default { tools: 'Call the tools of this MCP server' }
   */
  readonly scopes?: Record<string, string>;
  /**
   * Accepted `aud` values (`MCP_OAUTH_AUDIENCE`).
   * @default - the endpoint's public URL, which Cognito puts in `aud` when the client sends it as
   * the RFC 8707 `resource` parameter (as MCP clients do)
   */
  readonly audience?: string[];
  /**
   * Multi-factor authentication of a new pool, by authenticator app (TOTP). `required` asks
   * every user to enrol at first sign-in.
   * @default 'required'
   */
  readonly mfa?: 'required' | 'optional';
  /**
   * Let anyone create an account on the sign-in page of a new pool. Off, users are created by an
   * administrator (`aws cognito-idp admin-create-user`), who controls who may call the tools.
   * @default false
   */
  readonly selfSignUp?: boolean;
  /**
   * Put a new pool on the Plus feature plan with threat protection enforced (compromised
   * credentials, adaptive authentication). Plus costs more per monthly active user than the
   * Essentials plan used otherwise.
   * @default false
   */
  readonly threatProtection?: boolean;
}

/** How callers authenticate (`MCP_AUTH_MODE`), with each mode's settings. */
export type McpAuth = McpAuthNone | McpAuthApiKey | McpAuthOAuth | McpAuthCognito;

export type McpAuthMode = McpAuth['mode'];

export const AUTH_MODES: readonly McpAuthMode[] = ['none', 'apikey', 'oauth', 'oauth,apikey', 'cognito', 'cognito,apikey'];

/** Function variables that auth props own; `environment` may not set them. */
export const AUTH_VARIABLES = [
  'MCP_AUTH_MODE',
  'MCP_ALLOW_UNAUTHENTICATED',
  'MCP_PUBLIC_URL',
  'MCP_OAUTH_ISSUER',
  'MCP_OAUTH_JWKS_URL',
  'MCP_OAUTH_AUDIENCE',
  'MCP_OAUTH_SCOPES',
  'MCP_OAUTH_ALGORITHMS',
  'MCP_OAUTH_CLOCK_SKEW_SECONDS',
  'MCP_APIKEY_CACHE_SECONDS',
] as const;

export function usesOAuth(auth: McpAuth): auth is McpAuthOAuth | McpAuthCognito {
  return auth.mode !== 'none' && auth.mode !== 'apikey';
}

const acceptsApiKeys = (mode: McpAuthMode) => mode === 'apikey' || mode.endsWith(',apikey');

/** Checks what can be checked at synth; `owner` names the endpoint in messages. */
export function validateAuth(auth: McpAuth, owner: string): void {
  if (!AUTH_MODES.includes(auth.mode)) {
    throw new Error(`${owner}: auth.mode "${auth.mode}" must be one of ${AUTH_MODES.join(', ')}.`);
  }
  if (auth.mode === 'none') return;
  if (auth.apiKeyCacheTtl !== undefined) {
    if (!acceptsApiKeys(auth.mode)) throw new Error(`${owner}: auth.apiKeyCacheTtl only applies to modes that accept API keys, not "${auth.mode}".`);
    const seconds = auth.apiKeyCacheTtl.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds > 60) {
      throw new Error(
        `${owner}: auth.apiKeyCacheTtl must be whole seconds, at most 60 (it bounds how long a revoked key keeps working); got ${auth.apiKeyCacheTtl.toHumanString()}.`,
      );
    }
  }
  if (auth.mode === 'apikey') return;
  if (auth.audience !== undefined) validateList(auth.audience, 'auth.audience', owner);
  switch (auth.mode) {
    case 'oauth':
    case 'oauth,apikey':
      validateHttpsUrl(auth.issuer, 'auth.issuer', owner);
      if (auth.jwksUrl !== undefined) validateHttpsUrl(auth.jwksUrl, 'auth.jwksUrl', owner);
      if (auth.scopes !== undefined) validateList(auth.scopes, 'auth.scopes', owner);
      return;
    case 'cognito':
    case 'cognito,apikey':
      validateCognito(auth, owner);
  }
}

function validateCognito(auth: McpAuthCognito, owner: string): void {
  if (auth.callbackUrls.length === 0) throw new Error(`${owner}: auth.callbackUrls is empty; list the redirect URIs of the MCP clients that will sign in.`);
  for (const url of auth.callbackUrls) validateCallbackUrl(url, owner);
  if (auth.userPool) {
    const poolSettings = (['mfa', 'selfSignUp', 'threatProtection'] as const).filter((key) => auth[key] !== undefined);
    if (poolSettings.length > 0) {
      throw new Error(`${owner}: auth.${poolSettings.join(', auth.')} configure a new user pool; set them on the pool passed as auth.userPool instead.`);
    }
  }
  if (auth.domainPrefix !== undefined) validateDomainPrefix(auth.domainPrefix, `auth.domainPrefix "${auth.domainPrefix}"`, owner);
  const identifier = auth.resourceServerIdentifier;
  if (identifier !== undefined && !Token.isUnresolved(identifier) && !/^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/.test(identifier)) {
    throw new Error(`${owner}: auth.resourceServerIdentifier "${identifier}" must be 1-256 printable characters without spaces, '"' or '\\'.`);
  }
  const scopes = Object.keys(auth.scopes ?? {});
  if (auth.scopes !== undefined && scopes.length === 0) throw new Error(`${owner}: auth.scopes is empty; give the resource server at least one scope.`);
  for (const name of scopes) {
    if (!/^[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]{1,256}$/.test(name)) {
      throw new Error(`${owner}: auth.scopes name "${name}" must be printable characters without spaces, "/", '"' or '\\'.`);
    }
  }
}

function validateHttpsUrl(value: string, name: string, owner: string): void {
  if (Token.isUnresolved(value)) return;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'https:' || url.hash !== '') throw new Error(`${owner}: ${name} "${value}" must be an https URL without a fragment.`);
}

/** The kit splits these variables on commas, and scope and audience values never hold spaces. */
function validateList(values: string[], name: string, owner: string): void {
  if (values.length === 0) throw new Error(`${owner}: ${name} is empty; leave it out for the default.`);
  for (const value of values) {
    if (Token.isUnresolved(value)) continue;
    if (value === '' || /[\s,]/.test(value)) throw new Error(`${owner}: ${name} entry "${value}" must be non-empty, without spaces or commas.`);
  }
}

/** Cognito's rule for redirect URIs: https, http on localhost only, or a custom scheme; no fragment. */
function validateCallbackUrl(value: string, owner: string): void {
  if (Token.isUnresolved(value)) return;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  const allowed = (u: URL) => {
    if (u.protocol === 'https:') return true;
    if (u.protocol === 'http:') return u.hostname === 'localhost';
    return !['javascript:', 'data:', 'file:'].includes(u.protocol);
  };
  if (!url || !allowed(url) || url.hash !== '') {
    throw new Error(
      `${owner}: auth.callbackUrls entry "${value}" must be an https URL, http://localhost…, or a custom scheme (myapp://…), without a fragment.`,
    );
  }
}

function validateDomainPrefix(prefix: string, what: string, owner: string): void {
  if (Token.isUnresolved(prefix)) return;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix) || /aws|amazon|cognito/.test(prefix)) {
    throw new Error(
      `${owner}: ${what} must be 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen, ` +
        'without "aws", "amazon" or "cognito"; set auth.domainPrefix to one that is.',
    );
  }
}

export interface McpCognitoAuthorizationServerProps {
  readonly settings: McpAuthCognito;
  readonly serverName: string;
  readonly stage: string;
  /** Retain the user pool, with deletion protection, when the stack is deleted. */
  readonly production: boolean;
}

/**
 * The Cognito side of the `cognito` modes. MCP clients find it through the endpoint's protected
 * resource metadata (issuer) and Cognito's OpenID discovery document under the issuer.
 */
export class McpCognitoAuthorizationServer extends Construct {
  readonly userPool: cognito.IUserPool;
  readonly resourceServer: cognito.UserPoolResourceServer;
  readonly client: cognito.UserPoolClient;
  /** @default undefined when an existing pool is used without `domainPrefix` */
  readonly domain?: cognito.UserPoolDomain;
  /** `https://cognito-idp.<region>.amazonaws.com/<poolId>`, the `iss` of the pool's tokens. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** The resource server's scopes as tokens carry them: `<identifier>/<name>`. */
  readonly scopes: string[];

  constructor(scope: Construct, id: string, props: McpCognitoAuthorizationServerProps) {
    super(scope, id);
    const { settings, serverName, stage, production } = props;
    this.userPool = settings.userPool ?? this.createUserPool(settings, serverName, stage, production);

    const identifier = settings.resourceServerIdentifier ?? serverName;
    const scopes = Object.entries(settings.scopes ?? { tools: 'Call the tools of this MCP server' }).map(
      ([scopeName, scopeDescription]) => new cognito.ResourceServerScope({ scopeName, scopeDescription }),
    );
    this.resourceServer = new cognito.UserPoolResourceServer(this, 'ResourceServer', {
      userPool: this.userPool,
      identifier,
      userPoolResourceServerName: `mcp-${serverName}-${stage}`,
      scopes,
    });
    this.scopes = scopes.map((s) => `${identifier}/${s.scopeName}`);

    // A public client (no secret) for MCP clients on users' machines: authorization code with
    // PKCE only, which MCP clients always send. Cognito has no dynamic client registration, so
    // its client ID is configured in each MCP client.
    this.client = new cognito.UserPoolClient(this, 'Client', {
      userPool: this.userPool,
      userPoolClientName: `mcp-${serverName}-${stage}`,
      generateSecret: false,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      oAuth: {
        flows: { authorizationCodeGrant: true },
        // openid too: MCP clients that add it to their request would otherwise get invalid_scope.
        scopes: [cognito.OAuthScope.OPENID, ...scopes.map((s) => cognito.OAuthScope.resourceServer(this.resourceServer, s))],
        callbackUrls: settings.callbackUrls,
      },
    });

    const domainPrefix = settings.domainPrefix ?? (settings.userPool ? undefined : defaultDomainPrefix(serverName, stage));
    if (domainPrefix !== undefined) {
      // Managed login (version 2, not the classic hosted UI), the sign-in Cognito documents resource
      // binding (RFC 8707 `resource`) for. It serves a client's pages once the client has a style.
      this.domain = new cognito.UserPoolDomain(this, 'Domain', {
        userPool: this.userPool,
        cognitoDomain: { domainPrefix },
        managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
      });
      new cognito.CfnManagedLoginBranding(this, 'Branding', {
        userPoolId: this.userPool.userPoolId,
        clientId: this.client.userPoolClientId,
        useCognitoProvidedValues: true,
      });
    }

    this.issuer = `https://cognito-idp.${this.userPool.env.region}.${Aws.URL_SUFFIX}/${this.userPool.userPoolId}`;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
  }

  private createUserPool(settings: McpAuthCognito, serverName: string, stage: string, production: boolean): cognito.UserPool {
    const plus = settings.threatProtection ?? false;
    const mfaRequired = (settings.mfa ?? 'required') === 'required';
    const pool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `mcp-${serverName}-${stage}`,
      selfSignUpEnabled: settings.selfSignUp ?? false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // TOTP only: SMS would need an SNS role and a spend limit, email MFA a verified SES identity.
      mfa: mfaRequired ? cognito.Mfa.REQUIRED : cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      // Essentials is the least plan with managed login and resource binding (RFC 8707).
      featurePlan: plus ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: plus ? cognito.StandardThreatProtectionMode.FULL_FUNCTION : undefined,
      deletionProtection: production,
      removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const acknowledgements: { id: string; reason: string }[] = [];
    if (!mfaRequired) {
      acknowledgements.push({
        id: 'AwsSolutions-COG2',
        reason:
          'MFA was made optional through the `mfa` setting of this endpoint, on purpose; users can still enrol an ' +
          'authenticator app, and the default (`required`) asks every user for one.',
      });
    }
    if (!plus) {
      acknowledgements.push({
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus plan (threat protection) is billed per monthly active user on top of Essentials; it is one ' +
          'setting away (`threatProtection: true`). Essentials already gives managed login and RFC 8707 resource binding.',
      });
    }
    if (acknowledgements.length > 0) Validations.of(pool).acknowledge(...acknowledgements);
    return pool;
  }
}

/** `<serverName>-<stage>-<8 hex digits>`: the stack id's GUID keeps it unique across accounts and stable for the stack's life. */
function defaultDomainPrefix(serverName: string, stage: string): string {
  const head = `${serverName}-${stage}`;
  validateDomainPrefix(`${head}-0123abcd`, `the default domain prefix "${head}-<8 hex digits>"`, `McpServerEndpoint "${serverName}"`);
  const suffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
  return `${head}-${suffix}`;
}

/** The function variables of an auth mode (except MCP_PUBLIC_URL, set by the endpoint). */
export function authEnvironment(auth: McpAuth, server?: McpCognitoAuthorizationServer): Record<string, string> {
  switch (auth.mode) {
    case 'none':
      return { MCP_AUTH_MODE: 'none', MCP_ALLOW_UNAUTHENTICATED: 'true' };
    case 'apikey':
      return { MCP_AUTH_MODE: 'apikey', ...apiKeyEnvironment(auth) };
    case 'oauth':
    case 'oauth,apikey':
      return {
        MCP_AUTH_MODE: auth.mode,
        MCP_OAUTH_ISSUER: auth.issuer,
        ...(auth.jwksUrl && { MCP_OAUTH_JWKS_URL: auth.jwksUrl }),
        ...(auth.audience && { MCP_OAUTH_AUDIENCE: auth.audience.join(',') }),
        ...(auth.scopes && { MCP_OAUTH_SCOPES: auth.scopes.join(',') }),
        ...apiKeyEnvironment(auth),
      };
    case 'cognito':
    case 'cognito,apikey':
      if (!server) throw new Error('authEnvironment: the cognito modes need their authorization server.');
      return {
        // The kit knows OAuth, not Cognito: to it this is an issuer like any other.
        MCP_AUTH_MODE: auth.mode === 'cognito' ? 'oauth' : 'oauth,apikey',
        MCP_OAUTH_ISSUER: server.issuer,
        MCP_OAUTH_JWKS_URL: server.jwksUrl,
        ...(auth.audience && { MCP_OAUTH_AUDIENCE: auth.audience.join(',') }),
        MCP_OAUTH_SCOPES: server.scopes.join(','),
        ...apiKeyEnvironment(auth),
      };
  }
}

function apiKeyEnvironment(auth: McpApiKeyOptions): Record<string, string> {
  return auth.apiKeyCacheTtl ? { MCP_APIKEY_CACHE_SECONDS: String(auth.apiKeyCacheTtl.toSeconds()) } : {};
}
