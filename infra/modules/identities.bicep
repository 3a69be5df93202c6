// The user-assigned identities: the worker's (federated with the chart's ServiceAccounts in
// workload-identity.bicep), KEDA's (reads the queue length) and the Function app's (shared by its slots, so that a
// swap keeps the roles).

@description('Name of the worker\'s identity.')
param workerIdentityName string

@description('Name of the identity KEDA\'s operator signs in with.')
param kedaIdentityName string

@description('Name of the Function app\'s identity.')
param functionIdentityName string

@description('Region of the identities.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: workerIdentityName
  location: location
  tags: tags
}

resource kedaIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: kedaIdentityName
  location: location
  tags: tags
}

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionIdentityName
  location: location
  tags: tags
}

output workerName string = workerIdentity.name
output workerClientId string = workerIdentity.properties.clientId
output workerPrincipalId string = workerIdentity.properties.principalId
output kedaName string = kedaIdentity.name
output kedaClientId string = kedaIdentity.properties.clientId
output kedaPrincipalId string = kedaIdentity.properties.principalId
output functionId string = functionIdentity.id
output functionClientId string = functionIdentity.properties.clientId
output functionPrincipalId string = functionIdentity.properties.principalId
