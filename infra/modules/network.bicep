// Private networking (main.bicep, vnetEnabled): the app's own VNet with
// - a subnet for the Function App's VNet integration, delegated to Microsoft.App/environments (what Flex Consumption
//   requires; Azure-Samples/functions-quickstart-python-http-azd infra/app/vnet.bicep does the same), whose outbound
//   traffic to the internet (ARM, Entra ID, EMQX's APIs, Application Insights) leaves through a NAT gateway: a new
//   subnet has no default outbound access to count on;
// - a subnet for the private endpoints of the storage account (blob, queue, table) and of Key Vault, each with its
//   private DNS zone linked to the VNet, so the app resolves their usual names to the private addresses.
// Zone names come from environment(), so they are the right ones in every cloud (privatelink.blob.core.windows.net,
// privatelink.blob.core.usgovcloudapi.net, privatelink.blob.core.chinacloudapi.cn, ...; Key Vault's zone is the vault
// DNS suffix with `vaultcore` for `vault`: privatelink.vaultcore.azure.net, .usgovcloudapi.net, .azure.cn).
// The target VNets (the links' load balancers, NICs and Redis) need no peering with this one: the app reaches them only
// through ARM, and EMQX's Redis test goes through the PrivateLink from EMQX's side.
param name string
param location string
param tags object
param addressPrefix string
param appSubnetPrefix string
param privateEndpointSubnetPrefix string
param storageAccountId string
param keyVaultId string

var keyVaultZone = 'privatelink${replace(environment().suffixes.keyvaultDns, 'vault', 'vaultcore')}'
// A literal list: pycep, which checkov and the tests parse Bicep with, reads no lambda (map, filter).
var endpoints = [
  {
    service: 'blob'
    target: storageAccountId
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    service: 'queue'
    target: storageAccountId
    zone: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    service: 'table'
    target: storageAccountId
    zone: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    service: 'vault'
    target: keyVaultId
    zone: keyVaultZone
  }
]

resource outboundAddress 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: outboundAddress.id
      }
    ]
  }
}

// Inbound from the internet is refused on both subnets; the Function App itself stays reachable on its public
// endpoint (function keys), which is not part of this VNet.
resource appSecurityGroup 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-app'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointSecurityGroup 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-pe'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          natGateway: {
            id: natGateway.id
          }
          networkSecurityGroup: {
            id: appSecurityGroup.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: endpointSecurityGroup.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for endpoint in endpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (endpoint, index) in endpoints: {
  parent: zones[index]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for endpoint in endpoints: {
  name: 'pe-${name}-${endpoint.service}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/private-endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.service
        properties: {
          privateLinkServiceId: endpoint.target
          groupIds: [
            endpoint.service
          ]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (endpoint, index) in endpoints: {
  parent: privateEndpoints[index]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: endpoint.service
        properties: {
          privateDnsZoneId: zones[index].id
        }
      }
    ]
  }
}]

output appSubnetId string = '${vnet.id}/subnets/app'
output outboundAddress string = outboundAddress.properties.ipAddress
