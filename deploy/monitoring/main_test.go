package monitoring_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// klog, pulled in by the Kubernetes API types of the PrometheusRule,
		// starts a log flush daemon from its package init.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
		// After a dropped connection azservicebus v1.11.0 can leave a CBS
		// claim renewer waiting on its own timer (see worker/main_test.go).
		goleak.IgnoreTopFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	)
}
