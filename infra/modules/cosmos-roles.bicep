// Cosmos DB for Table's own data-plane roles (not Azure RBAC: Microsoft.DocumentDB/databaseAccounts/
// tableRoleAssignments), each on the jobs table alone. A Table API account keeps its tables in the database
// TablesDB, so the table's scope is <account id>/dbs/TablesDB/colls/<table>.

@description('Name of the Cosmos DB for Table account.')
param accountName string

@description('Job records table.')
param jobsTable string

@description('Principal ids that read and write the job records (the worker\'s, the Function\'s).')
param writerPrincipalIds array

// built-in Table data-plane role ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  cosmosTableDataContributor: '00000000-0000-0000-0000-000000000002'
}

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: accountName
}

// the account takes one control-plane change at a time
@batchSize(1)
resource writers 'Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments@2023-04-15' = [for principalId in writerPrincipalIds: {
  parent: account
  name: guid(account.id, jobsTable, principalId, roles.cosmosTableDataContributor)
  properties: {
    roleDefinitionId: '${account.id}/tableRoleDefinitions/${roles.cosmosTableDataContributor}'
    principalId: principalId
    scope: '${account.id}/dbs/TablesDB/colls/${jobsTable}'
  }
}]
