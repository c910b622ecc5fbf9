package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
)

// No Bicep compiler is reachable from this machine (the official one is a
// standalone binary from GitHub; the npm package "bicep" is unrelated), so
// main.bicep is checked as text for the facts the rest of the deployment
// relies on. docs/deploy.md says so.

// bicepDefault returns the quoted default of "param name string = '...'".
func bicepDefault(t *testing.T, bicep, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^param ` + regexp.QuoteMeta(name) + ` string = '([^']*)'$`)
	m := re.FindStringSubmatch(bicep)
	require.NotNil(t, m, "param %s with a string default", name)
	return m[1]
}

// bicepBlocks returns the body of every top-level "resource name 'type' = ... {"
// declaration, keyed by symbolic name.
func bicepBlocks(t *testing.T, bicep string) map[string]string {
	t.Helper()
	head := regexp.MustCompile(`(?m)^resource (\w+) '([^']+)' = `)
	out := map[string]string{}
	locs := head.FindAllStringSubmatchIndex(bicep, -1)
	for _, loc := range locs {
		name := bicep[loc[2]:loc[3]]
		start := strings.Index(bicep[loc[1]:], "{") + loc[1]
		depth := 0
		end := -1
		for i := start; i < len(bicep) && end < 0; i++ {
			switch bicep[i] {
			case '{':
				depth++
			case '}':
				depth--
				if depth == 0 {
					end = i
				}
			}
		}
		require.Positive(t, end, "unbalanced braces in resource %s", name)
		out[name] = bicep[loc[0] : end+1]
	}
	return out
}

func TestBicep(t *testing.T) {
	t.Parallel()
	bicep := readFile(t, "deploy", "azure", "main.bicep")
	res := bicepBlocks(t, bicep)

	// The queue matches the one the worker, the emulators and KEDA use.
	assert.Equal(t, "license-fixed", bicepDefault(t, bicep, "queueName"))
	assert.Equal(t, "PT1M", bicepDefault(t, bicep, "lockDuration"))
	assert.Contains(t, bicep, "param maxDeliveryCount int = 10")
	q := res["queue"]
	require.NotEmpty(t, q)
	for _, want := range []string{"lockDuration: lockDuration", "maxDeliveryCount: maxDeliveryCount", "deadLetteringOnMessageExpiration: true", "requiresSession: false"} {
		assert.Contains(t, q, want)
	}
	assert.Contains(t, res["serviceBus"], "disableLocalAuth: true", "Entra ID only")

	// Federated credentials: the worker's ServiceAccount and KEDA's.
	assert.Contains(t, res["workerFederation"], "subject: 'system:serviceaccount:${kubernetesNamespace}:${serviceAccountName}'")
	assert.Contains(t, res["kedaFederation"], "subject: 'system:serviceaccount:${kedaNamespace}:${kedaServiceAccountName}'")
	assert.Equal(t, "keda-operator", bicepDefault(t, bicep, "kedaServiceAccountName"))
	assert.Contains(t, bicep, "var tokenExchangeAudience = 'api://AzureADTokenExchange'")

	// Built-in role ids, and every role assignment scoped to the queue.
	roles := map[string]string{
		"roleServiceBusDataReceiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
		"roleServiceBusDataSender":   "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
		"roleServiceBusDataOwner":    "090c5cfd-751d-490a-894a-3ce6f1109419",
	}
	for v, id := range roles {
		assert.Contains(t, bicep, "var "+v+" = '"+id+"'")
	}
	want := map[string]string{ // assignment -> role variable
		"workerReceiver":               "roleServiceBusDataReceiver",
		"kedaOwner":                    "roleServiceBusDataOwner",
		"operatorSender":               "roleServiceBusDataSender",
		"operatorReceiver":             "roleServiceBusDataReceiver",
		"workerSubscriptionReceiver":   "roleServiceBusDataReceiver",
		"kedaSubscriptionOwner":        "roleServiceBusDataOwner",
		"operatorTopicSender":          "roleServiceBusDataSender",
		"operatorSubscriptionReceiver": "roleServiceBusDataReceiver",
	}
	scope := map[string]string{ // assignment -> scope and condition
		"workerReceiver":               "queue",
		"kedaOwner":                    "queue",
		"operatorSender":               "queue",
		"operatorReceiver":             "queue",
		"workerSubscriptionReceiver":   "topicSubscription",
		"kedaSubscriptionOwner":        "topicSubscription",
		"operatorTopicSender":          "topicForRoles",
		"operatorSubscriptionReceiver": "topicSubscription",
	}
	var assignments []string
	for name, body := range res {
		if strings.Contains(body, "'Microsoft.Authorization/roleAssignments@") {
			assignments = append(assignments, name)
		}
	}
	assert.ElementsMatch(t, keys(want), assignments, "no other role assignment")
	for name, role := range want {
		body := res[name]
		assert.Contains(t, body, "scope: "+scope[name]+"\n", "%s is scoped to its entity", name)
		assert.Contains(t, body, "roleDefinitions', "+role+")", name)
		if scope[name] == "queue" {
			assert.Regexp(t, `= if \(useQueue[ )]`, body, "%s only with a queue", name)
		} else {
			assert.Regexp(t, `= if \(useSubscription[ )]`, body, "%s only with a subscription", name)
		}
	}
	assert.Contains(t, res["workerReceiver"], "workerIdentity.properties.principalId")
	assert.Contains(t, res["kedaOwner"], "kedaIdentity.properties.principalId", "Data Owner only for KEDA's identity")

	// Outputs the Kubernetes files and the Graph script take.
	for _, out := range []string{"workerClientId", "workerPrincipalId", "kedaClientId", "tenantId", "serviceBusNamespaceName", "serviceBusFqdn", "queueName", "topicName", "subscriptionName"} {
		assert.Regexp(t, `(?m)^output `+out+` string = `, bicep)
	}
}

// TestBicepSubscription: the topic option, off by default, creates the
// subscription with the settings of the queue and a $Default rule that
// admits the replays addressed to it and no other subscription's.
func TestBicepSubscription(t *testing.T) {
	t.Parallel()
	bicep := readFile(t, "deploy", "azure", "main.bicep")
	res := bicepBlocks(t, bicep)
	assert.Equal(t, "queue", bicepDefault(t, bicep, "entityKind"), "a queue unless asked")
	assert.Contains(t, bicep, "var useQueue = entityKind == 'queue'")
	assert.Contains(t, bicep, "var useSubscription = entityKind == 'subscription'")
	assert.Contains(t, res["queue"], "= if (useQueue) {")

	// The names the subscription component's test overlay uses.
	o := buildBase(t, "deploy/testdata/subscription")
	assert.Equal(t, o.config.Data["LICENSEFIX_TOPIC"], bicepDefault(t, bicep, "topicName"))
	assert.Equal(t, o.config.Data["LICENSEFIX_SUBSCRIPTION"], bicepDefault(t, bicep, "subscriptionName"))

	assert.Contains(t, res["topic"], "= if (useSubscription && createTopic) {")
	assert.Contains(t, bicep, "param createTopic bool = true")
	sub := res["topicSubscription"]
	require.NotEmpty(t, sub)
	assert.Contains(t, sub, "= if (useSubscription) {")
	assert.Contains(t, sub, "name: '${serviceBus.name}/${topicName}/${subscriptionName}'")
	for _, want := range []string{"lockDuration: lockDuration", "maxDeliveryCount: maxDeliveryCount", "deadLetteringOnMessageExpiration: true", "requiresSession: false"} {
		assert.Contains(t, sub, want, "the subscription settles like the queue")
	}

	rule := res["subscriptionDefaultRule"]
	require.NotEmpty(t, rule)
	assert.Contains(t, rule, "parent: topicSubscription")
	assert.Contains(t, rule, "name: '$Default'", "replaces the catch-all rule")
	assert.Contains(t, rule, "filterType: 'SqlFilter'")
	assert.Contains(t, rule, "sqlExpression: subscriptionRule")
	assert.Equal(t, "1=1", bicepDefault(t, bicep, "subscriptionSqlFilter"))
	m := regexp.MustCompile(`(?m)^var subscriptionRule = '(.*)'$`).FindStringSubmatch(bicep)
	require.NotNil(t, m)
	p := dlq.PropReplayTo
	assert.Equal(t, `(${subscriptionSqlFilter}) AND (`+p+` IS NULL OR `+p+` = \'${subscriptionName}\')`, m[1],
		"the property dlq replay writes, and this subscription's name")
	cond := p + " IS NULL OR " + p + " = '<subscription>'"
	assert.True(t, strings.Contains(readFile(t, "README.md"), cond), "the README gives the same condition: %s", cond)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fakeAz is an "az" stand-in: it records its arguments and answers the
// calls grant-graph-permission.sh makes. The app role id is only returned
// when the JMESPath query asks for the permission by name.
const fakeAz = `#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE_AZ_LOG"
args="$*"
case "$args" in
  "cloud show"*) echo "https://graph.microsoft.com/" ;;
  "ad sp show --id 00000003-0000-0000-c000-000000000000 --query id"*) echo "graph-sp-object-id" ;;
  "ad sp show --id 00000003-0000-0000-c000-000000000000 --query appRoles"*)
    case "$args" in
      *"value=='CloudLicensing.AssignLicenses.Organization'"*) echo "role-cloudlicensing" ;;
      *"value=='User.ReadWrite.All'"*) echo "role-userreadwrite" ;;
    esac ;;
  "ad sp show --id $FAKE_PRINCIPAL"*) echo "$FAKE_PRINCIPAL" ;;
  "ad sp show"*) echo "ERROR: not found" >&2; exit 3 ;;
  "rest --method GET"*) echo "${FAKE_EXISTING:-0}" ;;
  "rest --method POST"*) echo "assignment-id" ;;
  *) echo "fake az: unexpected: $args" >&2; exit 9 ;;
esac
`

type grantRun struct {
	code   int
	stdout string
	stderr string
	calls  []string
}

func runGrant(t *testing.T, existing string, args ...string) grantRun {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err, "the script needs bash")
	dir := t.TempDir()
	az := filepath.Join(dir, "az")
	require.NoError(t, os.WriteFile(az, []byte(fakeAz), 0o755))
	logFile := filepath.Join(dir, "calls")
	cmd := exec.Command(bash, append([]string{repoPath(t, "deploy", "azure", "grant-graph-permission.sh")}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"AZ=" + az,
		"FAKE_AZ_LOG=" + logFile,
		"FAKE_PRINCIPAL=" + principal,
		"FAKE_EXISTING=" + existing,
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	r := grantRun{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	if b, err := os.ReadFile(logFile); err == nil {
		r.calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return r
}

const principal = "0f0e0d0c-0b0a-4909-8807-060504030201"

func postCall(r grantRun) string {
	for _, c := range r.calls {
		if strings.HasPrefix(c, "rest --method POST") {
			return c
		}
	}
	return ""
}

func TestGrantGraphPermissionScript(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, api, role, permission string
	}{
		{"beta by default", "", "role-cloudlicensing", "CloudLicensing.AssignLicenses.Organization"},
		{"beta", "beta", "role-cloudlicensing", "CloudLicensing.AssignLicenses.Organization"},
		{"v1", "v1", "role-userreadwrite", "User.ReadWrite.All"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{principal}
			if tc.api != "" {
				args = append(args, tc.api)
			}
			r := runGrant(t, "0", args...)
			require.Equal(t, 0, r.code, r.stderr)
			post := postCall(r)
			require.NotEmpty(t, post, "grants the app role: %v", r.calls)
			assert.Contains(t, post, "--url https://graph.microsoft.com/v1.0/servicePrincipals/"+principal+"/appRoleAssignments")
			assert.Contains(t, post, `"principalId":"`+principal+`"`)
			assert.Contains(t, post, `"resourceId":"graph-sp-object-id"`, "the Graph service principal looked up at run time")
			assert.Contains(t, post, `"appRoleId":"`+tc.role+`"`, "the role id looked up by permission name")
			assert.Contains(t, r.stdout, "granted "+tc.permission)
		})
	}
}

func TestGrantGraphPermissionScriptIsIdempotent(t *testing.T) {
	t.Parallel()
	r := runGrant(t, "1", principal)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, postCall(r), "an existing assignment is left alone")
	assert.Contains(t, r.stdout, "already granted")
}

func TestGrantGraphPermissionScriptRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"not-a-guid"}, {principal, "v2"}, {principal, "beta", "extra"}} {
		r := runGrant(t, "0", args...)
		assert.Equal(t, 2, r.code, "%v: usage error", args)
		assert.Empty(t, r.calls, "%v: nothing called", args)
	}
	// An unknown principal fails before anything is granted.
	r := runGrant(t, "0", "aaaaaaaa-0000-0000-0000-000000000000")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, postCall(r))
	assert.Contains(t, r.stderr, "no service principal")
}
