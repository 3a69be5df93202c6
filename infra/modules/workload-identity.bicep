// Federated credentials: the worker's identity trusts the chart's ServiceAccounts (one per slot,
// system:serviceaccount:<namespace>:transcoder-<slot>), KEDA's identity trusts the add-on's keda-operator.

@description('Name of the worker\'s user-assigned identity.')
param workerIdentityName string

@description('Name of the user-assigned identity KEDA\'s operator signs in with.')
param kedaIdentityName string

@description('OIDC issuer URL of the cluster.')
param oidcIssuerUrl string

@description('Namespace the chart is installed in.')
param workerNamespace string

@description('The worker\'s ServiceAccounts, one per slot (the chart names them after the release: transcoder-blue, transcoder-green).')
param workerServiceAccounts array

@description('Namespace of the KEDA add-on\'s operator.')
param kedaNamespace string

@description('ServiceAccount of the KEDA add-on\'s operator.')
param kedaServiceAccount string

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: workerIdentityName
}

resource kedaIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: kedaIdentityName
}

// credentials of one identity cannot be written concurrently
@batchSize(1)
resource workerCredentials 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = [for account in workerServiceAccounts: {
  parent: workerIdentity
  name: account
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${workerNamespace}:${account}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}]

resource kedaCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: kedaIdentity
  name: kedaServiceAccount
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${kedaNamespace}:${kedaServiceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}
