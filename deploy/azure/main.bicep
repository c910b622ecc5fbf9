// licensefix Azure resources, least privilege:
//
//   - a Service Bus namespace (Entra ID only: SAS keys disabled) and the
//     license-fixed queue; or, with entityKind=subscription, a topic (new,
//     or an existing one with createTopic=false), the subscription the
//     worker consumes and that subscription's $Default rule, which also
//     admits the copies "licensefix dlq replay" addresses to it (README:
//     "Consuming a topic subscription");
//   - the worker's user-assigned managed identity, federated with the AKS
//     OIDC issuer for system:serviceaccount:<kubernetesNamespace>:<serviceAccountName>,
//     with "Azure Service Bus Data Receiver" on the queue (or the
//     subscription) only;
//   - a second identity for the KEDA operator, federated with KEDA's
//     ServiceAccount, with "Azure Service Bus Data Owner" on the queue (or
//     the subscription) only (KEDA's scaler reads runtime properties, which
//     needs the Manage right; no narrower built-in role grants it);
//   - optionally, "Data Sender" + "Data Receiver" on the queue for the
//     operators' principal that runs "licensefix send" and "licensefix dlq"
//     (replay receives from the dead-letter queue and sends to the queue);
//     for a subscription, "Data Sender" on the topic (send and replay send
//     to the topic) and "Data Receiver" on the subscription.
//
// Service Bus authorises Entra ID requests per entity, subscriptions
// included: https://learn.microsoft.com/azure/service-bus-messaging/authenticate-application
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

@description('What the worker consumes: queue (queueName, the default) or subscription (subscriptionName of topicName).')
@allowed([
  'queue'
  'subscription'
])
param entityKind string = 'queue'

@description('Queue the worker consumes (LICENSEFIX_QUEUE), with entityKind queue.')
param queueName string = 'license-fixed'

@description('Topic of the subscription (LICENSEFIX_TOPIC), with entityKind subscription.')
param topicName string = 'license-events'

@description('Create the topic (true), or use an existing one (false): then every other subscription of it needs the replay condition, see README "Consuming a topic subscription".')
param createTopic bool = true

@description('Subscription the worker consumes (LICENSEFIX_SUBSCRIPTION), with entityKind subscription: 1-50 letters, digits, periods, hyphens, underscores.')
@minLength(1)
@maxLength(50)
param subscriptionName string = 'licensefix'

@description('SQL filter of the messages the subscription takes (1=1: all). The $Default rule is this AND the replay condition.')
param subscriptionSqlFilter string = '1=1'

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

var useQueue = entityKind == 'queue'
var useSubscription = entityKind == 'subscription'

// The subscription's filter: the messages it takes, minus the copies "dlq
// replay" from another subscription addresses elsewhere
// (licensefix_replay_to names the subscription a replayed copy is for).
// Every other subscription of the topic needs the same condition with its
// own name, or "licensefix_replay_to IS NULL" if it never replays.
var subscriptionRule = '(${subscriptionSqlFilter}) AND (licensefix_replay_to IS NULL OR licensefix_replay_to = \'${subscriptionName}\')'

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

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = if (useQueue) {
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

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = if (useSubscription && createTopic) {
  parent: serviceBus
  name: topicName
  properties: {
    defaultMessageTimeToLive: defaultMessageTimeToLive
    requiresDuplicateDetection: false
    enablePartitioning: false
  }
}

// Named by path rather than parent, so that it works with a topic this
// template creates and with an existing one.
resource topicSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = if (useSubscription) {
  name: '${serviceBus.name}/${topicName}/${subscriptionName}'
  dependsOn: [
    topic
  ]
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: defaultMessageTimeToLive
    requiresSession: false
  }
}

// Replaces the catch-all rule (1=1) Service Bus gives a new subscription.
resource subscriptionDefaultRule 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = if (useSubscription) {
  parent: topicSubscription
  name: '$Default'
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: subscriptionRule
    }
  }
}

// ---- the worker --------------------------------------------------------

// The topic as a role assignment scope, whether this template created it
// or not.
resource topicForRoles 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = {
  parent: serviceBus
  name: topicName
}

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

// Receive, complete, abandon, dead-letter and renew locks on this queue (or
// subscription); no send, no management, nothing on other entities.
resource workerReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useQueue) {
  name: guid(queue.id, workerIdentity.id, roleServiceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'licensefix worker: receive and settle license-fixed messages'
  }
}

resource workerSubscriptionReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useSubscription) {
  name: guid(topicSubscription.id, workerIdentity.id, roleServiceBusDataReceiver)
  scope: topicSubscription
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'licensefix worker: receive and settle license-fixed messages of its subscription'
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
resource kedaOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useQueue) {
  name: guid(queue.id, kedaIdentity.id, roleServiceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataOwner)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'KEDA: read license-fixed runtime properties (message count) to scale licensefix'
  }
}

// The same for the subscription's runtime properties (its active message
// count), scoped to the subscription, not the shared topic.
resource kedaSubscriptionOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useSubscription) {
  name: guid(topicSubscription.id, kedaIdentity.id, roleServiceBusDataOwner)
  scope: topicSubscription
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataOwner)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'KEDA: read the licensefix subscription runtime properties (message count) to scale licensefix'
  }
}

// ---- operators (send, dlq list/replay) ---------------------------------

resource operatorSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useQueue && !empty(operatorPrincipalId)) {
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
resource operatorReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useQueue && !empty(operatorPrincipalId)) {
  name: guid(queue.id, operatorPrincipalId, roleServiceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'licensefix dlq list/replay: peek and receive the dead-letter queue'
  }
}

// With a subscription: send and dlq replay send to the topic (Service Bus
// cannot send to a subscription)...
resource operatorTopicSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useSubscription && !empty(operatorPrincipalId)) {
  name: guid(serviceBus.id, topicName, operatorPrincipalId, roleServiceBusDataSender)
  scope: topicForRoles
  dependsOn: [
    topic
  ]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataSender)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'licensefix send and dlq replay: send to the topic'
  }
}

// ...and dlq list/replay/purge peek and receive the subscription's
// dead-letter queue.
resource operatorSubscriptionReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useSubscription && !empty(operatorPrincipalId)) {
  name: guid(topicSubscription.id, operatorPrincipalId, roleServiceBusDataReceiver)
  scope: topicSubscription
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleServiceBusDataReceiver)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'licensefix dlq list/replay/purge: peek and receive the subscription dead-letter queue'
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

@description('Queue name: LICENSEFIX_QUEUE and ScaledObject trigger metadata "queueName"; empty with entityKind subscription.')
output queueName string = useQueue ? queueName : ''

@description('Topic name: LICENSEFIX_TOPIC and ScaledObject trigger metadata "topicName" (components/subscription); empty with entityKind queue.')
output topicName string = useSubscription ? topicName : ''

@description('Subscription name: LICENSEFIX_SUBSCRIPTION and ScaledObject trigger metadata "subscriptionName"; empty with entityKind queue.')
output subscriptionName string = useSubscription ? subscriptionName : 
