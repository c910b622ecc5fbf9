// licensefix Azure resources, least privilege:
//
//   - a Service Bus namespace (Entra ID only: SAS keys disabled) and the
//     license-fixed queue;
//   - the worker's user-assigned managed identity, federated with the AKS
//     OIDC issuer for system:serviceaccount:<kubernetesNamespace>:<serviceAccountName>,
//     with "Azure Service Bus Data Receiver" on the queue only;
//   - a second identity for the KEDA operator, federated with KEDA's
//     ServiceAccount, with "Azure Service Bus Data Owner" on the queue only
//     (KEDA's scaler reads queue runtime properties, which needs the Manage
//     right; no narrower built-in role grants it);
//   - optionally, "Data Sender" + "Data Receiver" on the queue for the
//     operators' principal that runs "licensefix send" and "licensefix dlq"
//     (replay receives from the dead-letter queue and sends to the queue).
//
// The Microsoft Graph application permission is not an Azure role: grant it
// with grant-graph-permission.sh and the workerPrincipalId output.
//
//   az deployment group create -g rg-licensefix -f deploy/azure/main.bicep \
//     -p aksOidcIssuerUrl="$(az aks show -g rg-licensefix -n aks-licensefix --query oidcIssuerProfile.issuerUrl -o tsv)"

targetScope = 'resourceGroup'

@description('Location of every resource.')
param location string = resourceGroup().location

@description('Service Bus namespace name, globally unique (6-50 characters).')
@minLength(6)
@maxLength(50)
param serviceBusNamespaceName string = 'sb-licensefix-${uniqueString(resourceGroup().id)}'

@description('Service Bus tier. Standard is enough; Premium adds isolation and private endpoints.')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Queue the worker consumes (LICENSEFIX_QUEUE).')
param queueName string = 'license-fixed'

@description('Peek-lock duration (ISO 8601, at most PT5M). The worker renews locks while it retries.')
param lockDuration string = 'PT1M'

@description('Deliveries before Service Bus dead-letters a message (MaxDeliveryCountExceeded).')
@minValue(1)
param maxDeliveryCount int = 10

@description('Time to live of a message that nobody processes (ISO 8601); expired messages are dead-lettered.')
param defaultMessageTimeToLive string = 'P14D'

@description('Issuer URL of the AKS cluster\'s OIDC issuer: az aks show --query oidcIssuerProfile.issuerUrl -o tsv')
param aksOidcIssuerUrl string

@description('Kubernetes namespace of the worker (deploy/kubernetes/base sets licensefix).')
param kubernetesNamespace string = 'licensefix'

@description('Kubernetes ServiceAccount of the worker.')
param serviceAccountName string = 'licensefix'

@description('Namespace of the KEDA operator: kube-system for the AKS add-on, usually keda for the Helm chart.')
param kedaNamespace string = 'kube-system'

@description('ServiceAccount of the KEDA operator.')
param kedaServiceAccountName string = 'keda-operator'

@description('Optional object id of the user, group or service principal that runs "licensefix send" and "licensefix dlq"; empty for none.')
param operatorPrincipalId string = ''

@description('Type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'Group'

@description('Tags on every resource.')
param tags object = {
  app: 'licensefix'
}

// Built-in role definition ids (the same in every tenant).
var roleServiceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var roleServiceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var roleServiceBusDataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'

// Audience Azure AD expects in a Kubernetes service account token it exchanges.
var tokenExchangeAudience = 'api://AzureADTokenExchange'

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: serviceBusNamespaceName
  location: location
  tags: tags
  sku: {
    name: serviceBusSku
    tier: serviceBusSku
    capacity: serviceBusSku == 'Premium' ? 1 : null
  }
  properties: {
    // Entra ID only: no connection strings to leak or rotate.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: queueName
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: defaultMessageTimeToLive
    requiresSession: false
    requiresDuplicateDetection: false
    enablePartitioning: false
  }
}

// ---- the worker --------------------------------------------------------

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-licensefix'
  location: location
  tags: tags
}

resource workerFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: workerIdentity
  name: 'aks-${kubernetesNamespace}-${serviceAccountName}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${kubernetesNamespace}:${serviceAccountName}'
    audiences: [
      tokenExchangeAudience
    ]
  }
}

// Receive, complete, abandon, dead-letter and renew locks on this queue; no
// send, no management, nothing on other entities.
resource workerReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, workerIdentity.id, roleServiceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'licensefix worker: receive and settle license-fixed messages'
  }
}

// ---- KEDA --------------------------------------------------------------

resource kedaIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-licensefix-keda'
  location: location
  tags: tags
}

resource kedaFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: kedaIdentity
  name: 'aks-${kedaNamespace}-${kedaServiceAccountName}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${kedaNamespace}:${kedaServiceAccountName}'
    audiences: [
      tokenExchangeAudience
    ]
  }
}

// KEDA's azure-servicebus scaler calls the management API for the queue's
// active message count, which Service Bus authorises with the Manage claim.
// Scoped to this queue, on an identity only the KEDA operator can use.
resource kedaOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, kedaIdentity.id, roleServiceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataOwner)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'KEDA: read license-fixed runtime properties (message count) to scale licensefix'
  }
}

// ---- operators (send, dlq list/replay) ---------------------------------

resource operatorSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(queue.id, operatorPrincipalId, roleServiceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataSender)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'licensefix send and dlq replay: send to license-fixed'
  }
}

// dlq list peeks and dlq replay receives from license-fixed/$deadletterqueue,
// which is covered by a role assigned on the queue.
resource operatorReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(queue.id, operatorPrincipalId, roleServiceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'licensefix dlq list/replay: peek and receive the dead-letter queue'
  }
}

// ---- what the Kubernetes files need -------------------------------------

// serviceBusEndpoint is https://<name>.<cloud suffix>:443/; keep the host.
var serviceBusHost = split(split(serviceBus.properties.serviceBusEndpoint, '//')[1], ':')[0]

@description('Worker identity client id: ServiceAccount annotation azure.workload.identity/client-id.')
output workerClientId string = workerIdentity.properties.clientId

@description('Worker identity object (principal) id: argument of grant-graph-permission.sh.')
output workerPrincipalId string = workerIdentity.properties.principalId

@description('KEDA identity client id: TriggerAuthentication spec.podIdentity.identityId.')
output kedaClientId string = kedaIdentity.properties.clientId

@description('Tenant of both identities (the webhook injects it as AZURE_TENANT_ID).')
output tenantId string = tenant().tenantId

@description('Service Bus namespace name: ScaledObject trigger metadata "namespace".')
output serviceBusNamespaceName string = serviceBus.name

@description('Service Bus fully qualified namespace: LICENSEFIX_SERVICEBUS_NAMESPACE.')
output serviceBusFqdn string = serviceBusHost

@description('Queue name: LICENSEFIX_QUEUE and ScaledObject trigger metadata "queueName".')
output queueName string = queue.name
