// The Event Grid system topic of the storage account. Its subscription, which delivers
// BlobCreated events to the blob trigger, is deployed after the code (eventgrid.bicep).
//
// The topic has a system-assigned identity with Blob Data Contributor on the dead-letter
// container only: an event Event Grid cannot deliver (the app down past the retry policy, or a
// webhook answer it does not retry, such as 401 for a stale key) is written there as JSON instead
// of being dropped, so the image can be found and uploaded again.
param name string
param location string
param tags object = {}
param storageAccountId string
param storageAccountName string
param deadLetterContainerName string

// Storage Blob Data Contributor (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetters.id, systemTopic.id, storageBlobDataContributor)
  scope: storage::blobService::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = systemTopic.name
