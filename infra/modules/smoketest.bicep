// Data access for the deploy workflow's own identity, so that it can test the blob path end to
// end after each deployment: upload a test image to `images`, read its result from `results`,
// delete both. Blob Data Contributor on those two containers only (nothing on the account, the
// queues or the host's containers). main.bicep deploys this only when smokeTestPrincipalId is set;
// without it the workflow skips that test and only the HTTP smoke test runs.
param principalId string
param storageAccountName string
param imagesContainerName string
param resultsContainerName string

// Storage Blob Data Contributor (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource images 'containers' existing = {
      name: imagesContainerName
    }

    resource results 'containers' existing = {
      name: resultsContainerName
    }
  }
}

resource imagesContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::images.id, principalId, roles.storageBlobDataContributor)
  scope: storage::blobService::images
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

resource resultsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::results.id, principalId, roles.storageBlobDataContributor)
  scope: storage::blobService::results
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}
