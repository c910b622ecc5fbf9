// Package azcred chooses the Azure credential licensefix authenticates with
// (to Service Bus with a namespace, to Microsoft Graph with
// LICENSEFIX_GRAPH_AUTH=azure) from the environment, so that a deployment
// whose identity is known fails within seconds when it is misconfigured.
//
// azidentity's DefaultAzureCredential tries, in order, the environment,
// workload identity, managed identity (IMDS at 169.254.169.254) and the
// developer tools. On AKS the NetworkPolicy blocks IMDS, so a pod whose
// workload identity is missing (no azure.workload.identity/use label, no
// client-id annotation on its service account) only fails after the chain
// has waited on IMDS. [Select] decides, as a pure function of the
// environment:
//
//  1. AZURE_TOKEN_CREDENTIALS set: the operator's explicit choice is
//     honoured (azidentity v1.15 supports it: "dev", "prod" or one
//     credential type name). "WorkloadIdentityCredential" is built directly,
//     as in 2; any other valid value selects DefaultAzureCredential, which
//     restricts itself to it; an invalid value is an [Error].
//  2. AZURE_FEDERATED_TOKEN_FILE set: workload identity, built directly with
//     azidentity.NewWorkloadIdentityCredential (no fallback). AZURE_CLIENT_ID
//     and AZURE_TENANT_ID must be set too, else an [Error] names the missing
//     ones.
//  3. On Kubernetes (KUBERNETES_SERVICE_HOST set) with a service principal
//     in the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID and
//     AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH): that
//     environment credential, directly.
//  4. On Kubernetes otherwise: an [Error] saying the pod lacks workload
//     identity (the azure.workload.identity/use label, or the client-id
//     annotation of its service account) and naming the missing variables.
//     The CLI exits 2 at start-up.
//  5. Elsewhere (a developer machine, a VM): DefaultAzureCredential.
//
// [New] builds the chosen credential; [Check] asks it for one token at
// start-up, bounded, and turns Microsoft Entra ID's refusal (for instance
// AADSTS700213, no federated credential for the pod's service account)
// into one line with what to fix. Errors name variables and identities
// (client and tenant ids, which are not secrets), never a token, a secret or
// the contents of the token file.
package azcred
