// The Event Grid system topic of the storage account. Its subscription, which delivers
// BlobCreated events to the blob trigger, is deployed after the code (eventgrid.bicep).
param name string
param location string
param tags object = {}
param storageAccountId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
