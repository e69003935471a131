// Reads and checks config.json, which `inventory provision` writes beside index.html.

/**
 * @typedef {object} DashboardConfig
 * @property {string} region
 * @property {string} identityPoolId
 * @property {string} table
 * @property {number} lowStockThreshold
 * @property {string | null} endpoint  The emulator's URL; null on AWS.
 * @property {string | null} stack  The stack's name, for the commands the page suggests.
 * @property {string | null} dashboardRoleArn  the role the basic sign-in flow assumes
 * @property {string | null} summaryTable  The per-store and per-item summaries.
 * @property {string} cognitoUrl
 * @property {string} dynamodbUrl
 * @property {string} stsUrl
 * @property {"private" | "public"} access  private: staff sign in (user pool); public: guests
 * @property {string | null} userPoolId  (private only)
 * @property {string | null} userPoolClientId  (private only)
 * @property {string} idpUrl  the Cognito user pools endpoint
 */

export class ConfigError extends Error {}

/**
 * The regional service endpoints, or the emulator's single endpoint for every service.
 * @param {string} service  "cognito-identity", "cognito-idp", "dynamodb" or "sts"
 * @param {string} region
 * @param {string | null} endpoint
 */
export function serviceUrl(service, region, endpoint) {
  if (endpoint) return endpoint.replace(/\/+$/, "") + "/";
  // China regions live under a different domain.
  const domain = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${service}.${region}.${domain}/`;
}

/**
 * Validate the parsed JSON; every problem found is named in the message.
 * @param {unknown} raw
 * @returns {DashboardConfig}
 */
export function parseConfig(raw) {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("config.json is not a JSON object");
  }
  const data = /** @type {Record<string, unknown>} */ (raw);
  const problems = [];
  for (const key of ["region", "identityPoolId", "table"]) {
    if (typeof data[key] !== "string" || data[key] === "") problems.push(`"${key}" must be a non-empty string`);
  }
  const threshold = data.lowStockThreshold ?? 0;
  if (typeof threshold !== "number" || !Number.isFinite(threshold)) {
    problems.push(`"lowStockThreshold" must be a number`);
  }
  const endpoint = data.endpoint ?? null;
  if (endpoint !== null && (typeof endpoint !== "string" || !/^https?:\/\/[^\s/]+/.test(endpoint))) {
    problems.push(`"endpoint" must be null or an http(s) URL`);
  }
  const stack = data.stack ?? null;
  if (stack !== null && (typeof stack !== "string" || !/^[a-z][a-z0-9-]*$/.test(stack))) {
    problems.push(`"stack" must be null or a stack name`);
  }
  const roleArn = data.dashboardRoleArn ?? null;
  if (roleArn !== null && (typeof roleArn !== "string" || !/^arn:[\w-]+:iam::\d{12}:role\//.test(roleArn))) {
    problems.push(`"dashboardRoleArn" must be null or an IAM role ARN`);
  }
  // A config.json from before private dashboards has no "access": those stacks were public.
  const access = data.access ?? "public";
  if (access !== "private" && access !== "public") problems.push(`"access" must be "private" or "public"`);
  if (access === "private") {
    if (typeof data.userPoolId !== "string" || !/^[\w-]+_[0-9A-Za-z]+$/.test(data.userPoolId)) {
      problems.push(`"userPoolId" must be a user pool id (private access)`);
    }
    if (typeof data.userPoolClientId !== "string" || data.userPoolClientId === "") {
      problems.push(`"userPoolClientId" must be a non-empty string (private access)`);
    }
  }
  if (problems.length) throw new ConfigError(`config.json is invalid: ${problems.join("; ")}`);
  const region = /** @type {string} */ (data.region);
  const ep = /** @type {string | null} */ (endpoint);
  return {
    region,
    identityPoolId: /** @type {string} */ (data.identityPoolId),
    table: /** @type {string} */ (data.table),
    lowStockThreshold: /** @type {number} */ (threshold),
    endpoint: ep,
    stack: /** @type {string | null} */ (stack),
    dashboardRoleArn: /** @type {string | null} */ (roleArn),
    summaryTable: typeof data.summaryTable === "string" && data.summaryTable ? data.summaryTable : null,
    cognitoUrl: serviceUrl("cognito-identity", region, ep),
    dynamodbUrl: serviceUrl("dynamodb", region, ep),
    stsUrl: serviceUrl("sts", region, ep),
    access: /** @type {"private" | "public"} */ (access),
    userPoolId: access === "private" ? /** @type {string} */ (data.userPoolId) : null,
    userPoolClientId: access === "private" ? /** @type {string} */ (data.userPoolClientId) : null,
    idpUrl: serviceUrl("cognito-idp", region, ep),
  };
}

/**
 * Fetch config.json from beside the page. Never cached: provision may rewrite it.
 * @param {typeof fetch} fetchFn
 * @returns {Promise<DashboardConfig>}
 */
export async function loadConfig(fetchFn) {
  let response;
  try {
    response = await fetchFn("config.json", { cache: "no-store" });
  } catch (err) {
    throw new ConfigError(`could not fetch config.json: ${errorText(err)}`);
  }
  if (!response.ok) {
    throw new ConfigError(`could not fetch config.json: HTTP ${response.status}`);
  }
  let raw;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError("config.json is not valid JSON");
  }
  return parseConfig(raw);
}

/** @param {unknown} err */
export function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
