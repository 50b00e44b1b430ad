"""The CRM (HubSpot, Salesforce) as the book of business: sync in, write back out."""
