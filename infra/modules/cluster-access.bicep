// Who may use the cluster and its registry: the kubelet pulls from the registry (AcrPull on that registry only),
// and the pipeline's identity gets its kubeconfig (Cluster User Role on the cluster) and deploys into one
// namespace (Azure Kubernetes Service RBAC Writer on that namespace).

@description('Cluster name.')
param clusterName string

@description('Registry name.')
param registryName string

@description('Object id of the cluster\'s kubelet identity.')
param kubeletObjectId string

@description('Object id of the deploying pipeline\'s identity (empty: no pipeline roles).')
param pipelinePrincipalId string

@description('Namespace the pipeline deploys the chart into.')
param deployNamespace string

// built-in role definition ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  aksClusterUser: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f'
  aksRbacWriter: 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb'
}
var withPipeline = !empty(pipelinePrincipalId)

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' existing = {
  name: clusterName
}

// an Azure RBAC scope inside the cluster (Entra ID with Azure RBAC is on): <cluster id>/namespaces/<name>
resource namespaceScope 'Microsoft.ContainerService/managedClusters/namespaces@2024-05-01' existing = {
  parent: cluster
  name: deployNamespace
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource kubeletAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, kubeletObjectId, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: kubeletObjectId
    principalType: 'ServicePrincipal'
  }
}

resource pipelineClusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withPipeline) {
  name: guid(cluster.id, pipelinePrincipalId, roles.aksClusterUser)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.aksClusterUser)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource pipelineNamespaceWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withPipeline) {
  name: guid(namespaceScope.id, pipelinePrincipalId, roles.aksRbacWriter)
  scope: namespaceScope
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.aksRbacWriter)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}
